using BenchmarkDotNet.Running;
using TendermintActors.Benchmarks;

// `dotnet run -c Release --project tests/TendermintActors.Benchmarks -- --filter '*'` runs the micro-benchmarks
// (add `--job short` for a quick, less precise run); `-- link` runs the two-node link benchmark.
if (args.Length > 0 && args[0] == "link")
    return await LinkBenchmark.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(FrameCipherBenchmarks).Assembly).Run(args);
return 0;
