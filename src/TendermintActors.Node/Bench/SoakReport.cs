using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TendermintActors.Node.Bench;

/// <summary>
/// One report of <c>bench soak</c>. The target's process figures come from <c>/proc/&lt;pid&gt;</c> (<see cref="RssKb"/>,
/// <see cref="Fds"/>, <see cref="Sockets"/>: descriptors that are sockets), its own (<see cref="Target"/>: actors, GC
/// heap, sink counts) from the target process itself, <see cref="LivePeers"/> from its RPC <c>/net_info</c>, the
/// stops by reason from its <c>/metrics</c> (<c>cometbft_p2p_peer_stops_total</c>, cumulative), the rest from the
/// churning client. <see cref="MessagesPerSecond"/> counts what the target handled for the well-behaved peers since
/// the last report: the messages they sent (echo and sink channels) and the echoes they got back.
/// </summary>
internal sealed record SoakSample(double Seconds, bool Final)
{
    public int? LivePeers { get; init; }
    public double? RpcMs { get; init; }
    public string? RpcError { get; init; }
    public SoakTargetSample? Target { get; init; }
    public int Fds { get; init; }
    public int Sockets { get; init; }
    public long RssKb { get; init; }
    public double CpuSeconds { get; init; }
    public double MessagesPerSecond { get; init; }
    public IReadOnlyDictionary<string, long> Connections { get; init; } = new Dictionary<string, long>();
    public IReadOnlyDictionary<string, long> StopsByReason { get; init; } = new Dictionary<string, long>();
    /// <summary>Series in the target's <c>/metrics</c> (lines that are not comments).</summary>
    public int? MetricsSeries { get; init; }
    public long Lost { get; init; }
    public long Duplicates { get; init; }
    public long SinkSent { get; init; }

    public string ToJson() => BenchReport.Json(w =>
    {
        w.WriteString("type", Final ? "final" : "sample");
        w.WriteNumber("t_s", Math.Round(Seconds, 1));
        if (LivePeers is { } peers) w.WriteNumber("live_peers", peers);
        if (RpcMs is { } ms) w.WriteNumber("rpc_ms", Math.Round(ms, 2));
        if (RpcError is { } error) w.WriteString("rpc_error", error);
        if (Target is { } t)
        {
            w.WriteNumber("actors", t.Actors);
            w.WriteNumber("gc_heap_bytes", t.GcHeapBytes);
            w.WriteNumber("gc_gen0", t.Gen0);
            w.WriteNumber("gc_gen1", t.Gen1);
            w.WriteNumber("gc_gen2", t.Gen2);
            w.WriteNumber("sink_received", t.SinkMessages);
            w.WriteStartObject("actor_kinds");
            foreach (var (kind, count) in t.ActorKinds)
                w.WriteNumber(kind, count);
            w.WriteEndObject();
        }
        w.WriteNumber("fds", Fds);
        w.WriteNumber("sockets", Sockets);
        w.WriteNumber("rss_kb", RssKb);
        w.WriteNumber("cpu_s", Math.Round(CpuSeconds, 2));
        w.WriteNumber("messages_per_s", Math.Round(MessagesPerSecond, 1));
        if (MetricsSeries is { } series) w.WriteNumber("metrics_series", series);
        w.WriteNumber("lost", Lost);
        w.WriteNumber("duplicates", Duplicates);
        w.WriteNumber("sink_sent", SinkSent);
        WriteCounts(w, "connections", Connections);
        WriteCounts(w, "stops", StopsByReason);
    });

    private static void WriteCounts(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, long> counts)
    {
        w.WriteStartObject(name);
        foreach (var (key, value) in counts.OrderBy(c => c.Key, StringComparer.Ordinal))
            w.WriteNumber(key, value);
        w.WriteEndObject();
    }

    /// <summary>One line for a person watching the run.</summary>
    public override string ToString()
    {
        var line = new StringBuilder().Append(CultureInfo.InvariantCulture, $"[{Seconds,6:0}s]");
        line.Append(CultureInfo.InvariantCulture, $" peers {(LivePeers is { } p ? p.ToString(CultureInfo.InvariantCulture) : "?"),4}");
        line.Append(CultureInfo.InvariantCulture, $"  actors {(Target is { } t ? t.Actors.ToString(CultureInfo.InvariantCulture) : "?"),5}");
        line.Append(CultureInfo.InvariantCulture, $"  fds {Fds,4} (sockets {Sockets,4})");
        line.Append(CultureInfo.InvariantCulture, $"  rss {RssKb / 1024.0,6:F1} MiB");
        if (Target is { } target)
            line.Append(CultureInfo.InvariantCulture, $"  gc heap {target.GcHeapBytes / 1048576.0,5:F1} MiB");
        line.Append(CultureInfo.InvariantCulture, $"  {MessagesPerSecond,6:F0} msg/s");
        line.Append(CultureInfo.InvariantCulture, $"  conns {Connections.Values.Sum(),5}");
        line.Append(CultureInfo.InvariantCulture, $"  lost {Lost}");
        line.Append(RpcError is { } error ? $"  rpc FAILED ({error})" : FormattableString.Invariant($"  rpc {RpcMs:F0} ms"));
        if (StopsByReason.Count > 0)
            line.Append("  stops: ").AppendJoin(", ", StopsByReason.OrderByDescending(s => s.Value).Select(s => $"{s.Key} {s.Value}"));
        return line.ToString();
    }
}

/// <summary>
/// A least-squares line through the post-warm-up samples of one figure, and whether it is flat enough: its growth
/// over the window (slope × window) within <see cref="AllowedGrowth"/>, a share of the figure's mean plus a floor for
/// small counts (a few peers more or less at the last sample must not read as a leak).
/// </summary>
internal sealed record SoakTrend(string Name, string Unit, int Samples, double Mean, double SlopePerMinute, double WindowMinutes, double AllowedGrowth)
{
    public double Growth => SlopePerMinute * WindowMinutes;
    public bool Pass => Growth <= AllowedGrowth;

    public static SoakTrend Of(string name, string unit, IReadOnlyList<(double Seconds, double Value)> points, double share, double floor)
    {
        var n = points.Count;
        var meanT = points.Average(p => p.Seconds);
        var meanV = points.Average(p => p.Value);
        var sxx = points.Sum(p => (p.Seconds - meanT) * (p.Seconds - meanT));
        var sxy = points.Sum(p => (p.Seconds - meanT) * (p.Value - meanV));
        var slopePerSecond = sxx > 0 ? sxy / sxx : 0;
        var window = (points[^1].Seconds - points[0].Seconds) / 60;
        return new SoakTrend(name, unit, n, meanV, slopePerSecond * 60, window, share * meanV + floor);
    }

    public override string ToString() => FormattableString.Invariant(
        $"{Name}: mean {Mean:F1} {Unit}, slope {SlopePerMinute:+0.00;-0.00} {Unit}/min, {Growth:+0.0;-0.0} {Unit} over {WindowMinutes:F1} min (allowed {AllowedGrowth:F1}): {(Pass ? "PASS" : "FAIL")}");
}

/// <summary>The end of a soak run: the trends after warm-up and the checks that must hold for the whole run.</summary>
internal sealed record SoakVerdict(IReadOnlyList<SoakTrend> Trends, IReadOnlyList<string> Failures, double WarmupSeconds, int PostWarmupSamples)
{
    /// <summary>The slowest answer of the target's RPC (<c>/net_info</c>) over the run.</summary>
    public double? RpcMaxMs { get; init; }

    /// <summary>Growth allowed over the post-warm-up window, as a share of the mean (and a floor for counts).</summary>
    public const double RssShare = 0.10, CountShare = 0.10;
    public const double RssFloorKb = 0, ActorFloor = 50, SocketFloor = 10, FdFloor = 10;

    /// <summary>Fewer post-warm-up samples than this give no trend (and no PASS).</summary>
    public const int MinSamples = 3;

    public bool Pass => Failures.Count == 0 && Trends.All(t => t.Pass) && PostWarmupSamples >= MinSamples;

    public static SoakVerdict Of(IReadOnlyList<SoakSample> samples, double warmupSeconds, SoakTally.Snapshot tally)
    {
        var failures = new List<string>();
        var rpcFailures = samples.Count(s => s.RpcError is not null);
        if (rpcFailures > 0) failures.Add($"the target's RPC did not answer {rpcFailures} of {samples.Count} reports");
        if (tally.Lost > 0) failures.Add($"{tally.Lost} echo-channel messages lost on well-behaved connections");
        if (tally.Duplicates > 0) failures.Add($"{tally.Duplicates} echoes arrived twice or out of order");
        if (tally.Skipped > tally.Rejected) failures.Add($"{tally.Skipped - tally.Rejected} sequence numbers skipped by echoes");
        foreach (var (key, count) in tally.Outcomes.Where(o => !SoakScenarios.IsExpected(o.Key)).OrderBy(o => o.Key, StringComparer.Ordinal))
            failures.Add($"{count} × {key}");
        if (samples.Count > 0 && samples[^1] is { Final: true, Target: { } last } && last.SinkMessages != tally.SinkSent && !tally.Outcomes.Keys.Any(k => k.EndsWith("/dropped", StringComparison.Ordinal)))
            failures.Add($"the target's sink counted {last.SinkMessages} messages, the well-behaved peers sent {tally.SinkSent}");

        var post = samples.Where(s => s.Seconds >= warmupSeconds && !s.Final).ToList();
        var trends = new List<SoakTrend>();
        if (post.Count >= MinSamples)
        {
            trends.Add(SoakTrend.Of("rss", "KiB", [.. post.Select(s => (s.Seconds, (double)s.RssKb))], RssShare, RssFloorKb));
            var withTarget = post.Where(s => s.Target is not null).ToList();
            if (withTarget.Count >= MinSamples)
                trends.Add(SoakTrend.Of("actors", "actors", [.. withTarget.Select(s => (s.Seconds, (double)s.Target!.Actors))], CountShare, ActorFloor));
            trends.Add(SoakTrend.Of("sockets", "sockets", [.. post.Select(s => (s.Seconds, (double)s.Sockets))], CountShare, SocketFloor));
            trends.Add(SoakTrend.Of("fds", "fds", [.. post.Select(s => (s.Seconds, (double)s.Fds))], CountShare, FdFloor));
        }
        return new SoakVerdict(trends, failures, warmupSeconds, post.Count) { RpcMaxMs = samples.Max(s => s.RpcMs) };
    }

    public string ToJson(SoakTally.Snapshot tally, double seconds) => BenchReport.Json(w =>
    {
        w.WriteString("type", "summary");
        w.WriteString("verdict", Pass ? "PASS" : "FAIL");
        w.WriteNumber("seconds", Math.Round(seconds, 1));
        w.WriteNumber("warmup_s", Math.Round(WarmupSeconds, 1));
        w.WriteNumber("post_warmup_samples", PostWarmupSamples);
        if (RpcMaxMs is { } rpc) w.WriteNumber("rpc_max_ms", Math.Round(rpc, 1));
        w.WriteNumber("messages_sent", tally.Sent);
        w.WriteNumber("echoes", tally.Echoed);
        w.WriteNumber("lost", tally.Lost);
        w.WriteNumber("duplicates", tally.Duplicates);
        w.WriteNumber("sink_sent", tally.SinkSent);
        w.WriteNumber("pex_received", tally.PexReceived);
        w.WriteStartObject("connections");
        foreach (var (key, value) in tally.Outcomes.OrderBy(c => c.Key, StringComparer.Ordinal))
            w.WriteNumber(key, value);
        w.WriteEndObject();
        w.WriteStartArray("trends");
        foreach (var t in Trends)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteNumber("mean", Math.Round(t.Mean, 1));
            w.WriteNumber("slope_per_min", Math.Round(t.SlopePerMinute, 3));
            w.WriteNumber("growth", Math.Round(t.Growth, 1));
            w.WriteNumber("allowed", Math.Round(t.AllowedGrowth, 1));
            w.WriteBoolean("pass", t.Pass);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("failures");
        foreach (var f in Failures) w.WriteStringValue(f);
        w.WriteEndArray();
        w.WriteStartArray("first_errors");
        foreach (var e in tally.FirstErrors) w.WriteStringValue(e);
        w.WriteEndArray();
    });

    public IEnumerable<string> Lines()
    {
        foreach (var t in Trends) yield return t.ToString();
        if (PostWarmupSamples < MinSamples)
            yield return $"only {PostWarmupSamples} reports after the warm-up ({WarmupSeconds:0} s): no trend (at least {MinSamples} needed)";
        if (RpcMaxMs is { } rpc) yield return FormattableString.Invariant($"slowest RPC answer (/net_info): {rpc:F0} ms");
        foreach (var f in Failures) yield return "FAIL: " + f;
        yield return Pass ? "PASS" : "FAIL";
    }
}

/// <summary>
/// The plot of a soak run as SVG: the target's RSS and GC heap, its live peers, and its actors over time, one panel
/// each, with the end of the warm-up marked. Plain polylines, no library.
/// </summary>
internal static class SoakPlot
{
    private const int Width = 900, PanelHeight = 200, Left = 70, Right = 20, Top = 30, Gap = 50;

    public static string Svg(IReadOnlyList<SoakSample> samples, double warmupSeconds, string title)
    {
        var points = samples.Where(s => !s.Final).ToList();
        var panels = new (string Label, (string Name, string Color, Func<SoakSample, double?> Value)[] Lines)[]
        {
            ("memory (MiB)", [("RSS", "#1f77b4", s => s.RssKb / 1024.0), ("GC heap", "#9467bd", s => s.Target?.GcHeapBytes / 1048576.0)]),
            ("peers", [("live peers (net_info)", "#2ca02c", s => s.LivePeers), ("sockets", "#ff7f0e", s => s.Sockets)]),
            ("actors", [("actors", "#d62728", s => s.Target?.Actors)]),
        };
        var height = Top + panels.Length * (PanelHeight + Gap);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{height}" font-family="sans-serif" font-size="12">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="{Width}" height="{height}" fill="white"/>""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left}" y="18" font-size="14">{Escape(title)}</text>""").Append('\n');
        var maxT = Math.Max(1, points.Count > 0 ? points[^1].Seconds : 1);
        var plotWidth = Width - Left - Right;
        for (var p = 0; p < panels.Length; p++)
        {
            var (label, lines) = panels[p];
            var top = Top + p * (PanelHeight + Gap) + 10;
            var values = lines.SelectMany(l => points.Select(l.Value)).OfType<double>().ToList();
            var maxV = values.Count > 0 ? NiceCeiling(values.Max()) : 1;
            double X(double t) => Left + t / maxT * plotWidth;
            double Y(double v) => top + PanelHeight - v / maxV * PanelHeight;
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{Left}" y="{top}" width="{plotWidth}" height="{PanelHeight}" fill="none" stroke="#888"/>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left - 6}" y="{top + 4}" text-anchor="end">{maxV:0.##}</text>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left - 6}" y="{top + PanelHeight}" text-anchor="end">0</text>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left + plotWidth}" y="{top + PanelHeight + 16}" text-anchor="end">{maxT:0} s</text>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left}" y="{top + PanelHeight + 16}">0 s</text>""").Append('\n');
            if (warmupSeconds > 0 && warmupSeconds < maxT)
                svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{X(warmupSeconds):0.#}" y1="{top}" x2="{X(warmupSeconds):0.#}" y2="{top + PanelHeight}" stroke="#bbb" stroke-dasharray="4 4"/><text x="{X(warmupSeconds) + 4:0.#}" y="{top + 12}" fill="#888">warm-up ends</text>""").Append('\n');
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left}" y="{top - 4}" font-weight="bold">{Escape(label)}</text>""").Append('\n');
            var offset = Left + 8 * label.Length + 20;
            foreach (var (name, color, value) in lines)
            {
                var coordinates = points.Select(s => (s.Seconds, Value: value(s))).Where(v => v.Value is not null)
                    .Select(v => FormattableString.Invariant($"{X(v.Seconds):0.#},{Y(v.Value!.Value):0.#}"));
                svg.Append(CultureInfo.InvariantCulture, $"""<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{string.Join(' ', coordinates)}"/>""").Append('\n');
                svg.Append(CultureInfo.InvariantCulture, $"""<text x="{offset}" y="{top - 4}" fill="{color}">{Escape(name)}</text>""").Append('\n');
                offset += 8 * name.Length + 20;
            }
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>A round number at or above <paramref name="value"/> (1, 2 or 5 times a power of ten), for the axis.</summary>
    internal static double NiceCeiling(double value)
    {
        if (value <= 0) return 1;
        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 2, 5, 10 })
            if (step * power >= value) return step * power;
        return 10 * power;
    }

    private static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
