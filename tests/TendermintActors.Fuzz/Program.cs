using System.Diagnostics;

namespace TendermintActors.Fuzz;

/// <summary>
/// <c>TendermintActors.Fuzz TARGET</c>: runs one target under afl-fuzz (SharpFuzz's out-of-process loop).
/// <c>--replay TARGET FILE...</c>: runs files through a target in this process (to reproduce a finding).
/// <c>--smoke [CORPUS]</c>: replays every corpus/&lt;target&gt; folder through its target, without afl.
/// <c>--emit-corpus VECTORS.json HOCON_DIR CORPUS</c>: writes the seed corpus (see Seeds.cs).
/// <c>--list</c>: the target names.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        switch (args)
        {
            case ["--list"]:
                foreach (var name in Targets.All.Keys) Console.WriteLine(name);
                return 0;
            case ["--smoke", .. var rest]:
            {
                var corpus = rest is [var dir] ? dir : Path.Combine(AppContext.BaseDirectory, "corpus");
                var failures = 0;
                foreach (var (name, count, elapsed, failed) in Smoke.ReplayAll(corpus))
                {
                    Console.WriteLine($"{name,-18} {count,5} inputs  {elapsed.TotalMilliseconds,7:F0} ms  {(failed.Count == 0 ? "ok" : $"{failed.Count} FAILED")}");
                    foreach (var f in failed) Console.WriteLine($"  {f}");
                    failures += failed.Count;
                }
                return failures == 0 ? 0 : 1;
            }
            case ["--emit-corpus", var vectors, var hocon, var corpus]:
                Seeds.Write(vectors, hocon, corpus);
                return 0;
            case ["--replay", var target, .. var files] when Targets.All.ContainsKey(target):
                foreach (var file in files)
                {
                    var watch = Stopwatch.StartNew();
                    Targets.All[target](File.ReadAllBytes(file));
                    Console.WriteLine($"{file}: ok ({watch.ElapsedMilliseconds} ms)");
                }
                return 0;
            case [var target] when Targets.All.TryGetValue(target, out var run):
                SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
                {
                    using var memory = new MemoryStream();
                    stream.CopyTo(memory);
                    run(memory.ToArray());
                });
                return 0;
            default:
                Console.Error.WriteLine($"usage: TendermintActors.Fuzz TARGET | --replay TARGET FILE... | --smoke [CORPUS] | --emit-corpus VECTORS.json HOCON_DIR CORPUS | --list\ntargets: {string.Join(", ", Targets.All.Keys)}");
                return 2;
        }
    }
}
