#!/usr/bin/env pwsh
# Thin wrapper over the same dotnet commands README.md gives. Usage: ./build.ps1 [build|test|pack|bench]
param([ValidateSet('build', 'test', 'pack', 'bench')][string]$Target = 'test')
$ErrorActionPreference = 'Stop'
switch ($Target) {
    'build' { dotnet build -c Release }
    'test'  { dotnet test }
    'pack'  { dotnet pack -c Release -o artifacts }
    'bench' { dotnet run -c Release --project tests/TendermintActors.Benchmarks -- --filter '*' --job short }
}
exit $LASTEXITCODE
