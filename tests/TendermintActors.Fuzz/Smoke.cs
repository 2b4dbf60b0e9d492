using System.Diagnostics;

namespace TendermintActors.Fuzz;

/// <summary>Replays a corpus through the targets in this process: every input must be accepted or rejected, within a bound.</summary>
public static class Smoke
{
    /// <summary>Longer than any input takes (milliseconds on a loaded machine); past it, the input counts as a hang.</summary>
    public static readonly TimeSpan HangBound = TimeSpan.FromSeconds(20);

    public static IEnumerable<(string Target, int Inputs, TimeSpan Elapsed, IReadOnlyList<string> Failures)> ReplayAll(string corpus)
    {
        foreach (var (name, run) in Targets.All)
        {
            var dir = Path.Combine(corpus, name);
            var files = Directory.Exists(dir) ? Directory.GetFiles(dir).Order(StringComparer.Ordinal).ToArray() : [];
            var failures = new List<string>();
            if (files.Length == 0) failures.Add($"{dir}: no corpus");
            var watch = Stopwatch.StartNew();
            foreach (var file in files)
                if (Replay(run, File.ReadAllBytes(file)) is { } failure)
                    failures.Add($"{Path.GetFileName(file)}: {failure}");
            yield return (name, files.Length, watch.Elapsed, failures);
        }
    }

    /// <summary>Null when the target returns; otherwise what went wrong (an escaped exception, or no return within <see cref="HangBound"/>).</summary>
    public static string? Replay(Action<byte[]> target, byte[] input) => Replay(target, input, HangBound);

    public static string? Replay(Action<byte[]> target, byte[] input, TimeSpan hangBound)
    {
        // On its own thread, so that a hang is reported rather than stalling the run (the thread is left behind).
        var task = Task.Factory.StartNew(() => target(input), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            return task.Wait(hangBound) ? null : $"no return within {hangBound.TotalSeconds} s (hang)";
        }
        catch (AggregateException e)
        {
            return e.InnerException!.ToString();
        }
    }
}
