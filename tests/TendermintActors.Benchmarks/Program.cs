using BenchmarkDotNet.Running;
using TendermintActors.Benchmarks;

// `dotnet run -c Release --project tests/TendermintActors.Benchmarks -- --filter '*'` runs the micro-benchmarks
// (add `--job short` for a quick, less precise run); `-- link` runs the two-node link benchmark; `-- peers` runs
// `tmactors bench peers` (one node holding many peers; the same options, see docs/performance.md); `-- soak` runs
// `tmactors bench soak` (a node under churn for a long time; the same options, see docs/soak.md).
if (args.Length > 0 && args[0] == "link")
    return await LinkBenchmark.Run(args[1..]);
if (args.Length > 0 && args[0] == "peers")
    return TendermintActors.Node.Cli.Run(["bench", "peers", .. args[1..]], Console.Out, Console.Error);
if (args.Length > 0 && args[0] == "soak")
    return TendermintActors.Node.Cli.Run(["bench", "soak", .. args[1..]], Console.Out, Console.Error);
BenchmarkSwitcher.FromAssembly(typeof(FrameCipherBenchmarks).Assembly).Run(args);
return 0;
