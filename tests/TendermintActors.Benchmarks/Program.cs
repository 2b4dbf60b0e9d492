using BenchmarkDotNet.Running;
using TendermintActors.Benchmarks;

// `dotnet run -c Release --project tests/TendermintActors.Benchmarks -- --filter '*'` runs them all;
// add `--job short` for a quick, less precise run.
BenchmarkSwitcher.FromAssembly(typeof(FrameCipherBenchmarks).Assembly).Run(args);
