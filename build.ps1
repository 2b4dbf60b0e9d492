#!/usr/bin/env pwsh
# Thin wrapper over the same dotnet commands README.md gives. Usage: ./build.ps1 [localnet|test|build|pack|bench]
param([ValidateSet('localnet', 'test', 'build', 'pack', 'bench')][string]$Target = 'test')
$ErrorActionPreference = 'Stop'
switch ($Target) {
    'localnet' { dotnet run --project src/TendermintActors.Node -- localnet }
    'test'     { dotnet test }
    'build'    { dotnet build -c Release }
    'pack'     { dotnet pack -c Release -o artifacts }
    'bench'    { dotnet run -c Release --project tests/TendermintActors.Benchmarks -- --filter '*' --job medium }
}
exit $LASTEXITCODE
