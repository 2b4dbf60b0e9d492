using System.Text;
using System.Text.Json;

namespace TendermintActors.Node.Bench;

/// <summary>A bulk transfer's figures (bench send and bench sink). MB are 10^6 bytes, as network links are quoted.</summary>
internal sealed record Throughput(long Messages, long Bytes, double Seconds)
{
    /// <summary>Zero when no time passed (one message, or all in one tick): no rate can be told then.</summary>
    public double MegabytesPerSecond => Seconds > 0 ? Bytes / Seconds / 1e6 : 0;

    /// <summary>
    /// This process's CPU time over the same window, when measured (bench send): per byte it is steadier than MB/s on a
    /// shared machine, and it tells how much of the link's cost is on this side.
    /// </summary>
    public TimeSpan? ProcessCpu { get; init; }

    public double? CpuNanosecondsPerByte => ProcessCpu is { } cpu && Bytes > 0 ? cpu.TotalNanoseconds / Bytes : null;

    public string ToJson() => BenchReport.Json(w =>
    {
        w.WriteNumber("messages", Messages);
        w.WriteNumber("bytes", Bytes);
        w.WriteNumber("seconds", Math.Round(Seconds, 6));
        w.WriteNumber("mb_per_s", Math.Round(MegabytesPerSecond, 3));
        if (CpuNanosecondsPerByte is { } ns)
            w.WriteNumber("cpu_ns_per_byte", Math.Round(ns, 3));
    });

    public override string ToString() =>
        FormattableString.Invariant($"{Messages} messages, {Bytes} bytes in {Seconds:F3} s: {MegabytesPerSecond:F2} MB/s") +
        (CpuNanosecondsPerByte is { } ns ? FormattableString.Invariant($", {ns:F2} ns of this process's CPU per byte") : "");
}

/// <summary>Round-trip times of one message size (bench echo).</summary>
internal sealed record Latency(int Size, int Count, double P50Ms, double P99Ms, double MaxMs)
{
    /// <summary>With a bulk transfer on the same connection (bench echo --load-channel): what it moved meanwhile.</summary>
    public double? LoadMegabytesPerSecond { get; init; }

    /// <summary>What the same bulk transfer moved alone on the same connection just before (bench echo --load-baseline).</summary>
    public double? LoadUnloadedMegabytesPerSecond { get; init; }

    /// <summary>The share of its unloaded rate the bulk transfer kept meanwhile, in per cent.</summary>
    public double? LoadKeptPercent => LoadMegabytesPerSecond is { } load && LoadUnloadedMegabytesPerSecond is { } alone && alone > 0 ? 100 * load / alone : null;

    /// <summary>Nearest-rank percentiles of the samples (milliseconds), so every figure is one that was measured.</summary>
    public static Latency Of(int size, IReadOnlyList<double> samplesMs)
    {
        if (samplesMs.Count == 0) throw new ArgumentException("no samples", nameof(samplesMs));
        var sorted = samplesMs.Order().ToArray();
        double Rank(double q) => sorted[Math.Max(0, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new Latency(size, sorted.Length, Rank(0.50), Rank(0.99), sorted[^1]);
    }

    public string ToJson() => BenchReport.Json(w =>
    {
        w.WriteNumber("size", Size);
        w.WriteNumber("count", Count);
        w.WriteNumber("p50_ms", Math.Round(P50Ms, 4));
        w.WriteNumber("p99_ms", Math.Round(P99Ms, 4));
        w.WriteNumber("max_ms", Math.Round(MaxMs, 4));
        if (LoadMegabytesPerSecond is { } load)
            w.WriteNumber("load_mb_per_s", Math.Round(load, 3));
        if (LoadUnloadedMegabytesPerSecond is { } alone)
            w.WriteNumber("load_unloaded_mb_per_s", Math.Round(alone, 3));
        if (LoadKeptPercent is { } kept)
            w.WriteNumber("load_kept_percent", Math.Round(kept, 1));
    });

    public override string ToString() =>
        FormattableString.Invariant($"{Size,7} B x {Count}: p50 {P50Ms:F3} ms, p99 {P99Ms:F3} ms, max {MaxMs:F3} ms") +
        (LoadMegabytesPerSecond is { } load ? FormattableString.Invariant($" (under a bulk transfer at {load:F2} MB/s") : "") +
        (LoadKeptPercent is { } kept ? FormattableString.Invariant($", {kept:F1} % of its {LoadUnloadedMegabytesPerSecond:F2} MB/s alone") : "") +
        (LoadMegabytesPerSecond is null ? "" : ")");
}

internal static class BenchReport
{
    /// <summary>One JSON object on one line, so scripts can read each run with a line-oriented reader.</summary>
    public static string Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
