namespace TendermintActors.Node.Bench;

/// <summary>
/// What <c>bench peers</c> measured. Memory is the target's resident set (<c>VmRSS</c>) in KiB: before the peers
/// connected, and once they all had (and <see cref="PeersBench.Options.Settle"/> had passed).
/// </summary>
internal sealed record PeersReport(int Peers, double ConnectSeconds, long RssBeforeKb, long RssConnectedKb)
{
    /// <summary>From the first dial until every peer was upgraded (handshake and node-info exchange).</summary>
    public double HandshakesPerSecond => ConnectSeconds > 0 ? Peers / ConnectSeconds : 0;

    public double KbPerPeer => (RssConnectedKb - RssBeforeKb) / (double)Peers;

    /// <summary>
    /// With <c>--more-peers</c>: how many more connected after the first reading, and the resident set once they had
    /// (and the settling time had passed again). What they added per peer is the marginal cost of an idle peer, without
    /// what the first connections pay once (code pages, the runtime's collector structures).
    /// </summary>
    public (int Peers, long RssKb)? More { get; init; }

    public double? MarginalKbPerPeer => More is { } more ? (more.RssKb - RssConnectedKb) / (double)more.Peers : null;

    /// <summary>
    /// The target's CPU use (100 = one core) while it held the peers idle, over the settling time; null when that was
    /// under a second.
    /// </summary>
    public double? TargetIdleCpuPercent { get; init; }

    /// <summary>Null in idle mode.</summary>
    public PeersTraffic? Traffic { get; init; }

    /// <summary>Peers whose connection the target (or the network) ended before the end of the run.</summary>
    public int DroppedPeers { get; init; }

    public string ToJson() => BenchReport.Json(w =>
    {
        w.WriteNumber("peers", Peers);
        w.WriteNumber("connect_s", Math.Round(ConnectSeconds, 3));
        w.WriteNumber("handshakes_per_s", Math.Round(HandshakesPerSecond, 1));
        w.WriteNumber("rss_before_kb", RssBeforeKb);
        w.WriteNumber("rss_connected_kb", RssConnectedKb);
        w.WriteNumber("kb_per_peer", Math.Round(KbPerPeer, 1));
        if (More is { } more)
        {
            w.WriteNumber("more_peers", more.Peers);
            w.WriteNumber("rss_more_kb", more.RssKb);
            w.WriteNumber("marginal_kb_per_peer", Math.Round(MarginalKbPerPeer!.Value, 1));
        }
        if (TargetIdleCpuPercent is { } idle)
            w.WriteNumber("target_idle_cpu_pct", Math.Round(idle, 1));
        if (Traffic is { } t)
        {
            w.WriteNumber("size", t.Size);
            w.WriteNumber("interval_ms", t.Interval.TotalMilliseconds);
            w.WriteNumber("sent", t.Sent);
            w.WriteNumber("echoed", t.Echoed);
            w.WriteNumber("seconds", Math.Round(t.Seconds, 3));
            w.WriteNumber("messages_per_s", Math.Round(t.MessagesPerSecond, 1));
            w.WriteNumber("p50_ms", Math.Round(t.Latency.P50Ms, 4));
            w.WriteNumber("p99_ms", Math.Round(t.Latency.P99Ms, 4));
            w.WriteNumber("max_ms", Math.Round(t.Latency.MaxMs, 4));
            w.WriteNumber("target_cpu_s", Math.Round(t.TargetCpu.TotalSeconds, 3));
            w.WriteNumber("target_cpu_us_per_msg", Math.Round(t.TargetCpuMicrosecondsPerMessage, 2));
            w.WriteNumber("rss_end_kb", t.RssEndKb);
        }
        w.WriteNumber("dropped_peers", DroppedPeers);
    });

    public override string ToString()
    {
        var lines = new List<string>
        {
            FormattableString.Invariant($"{Peers} peers connected in {ConnectSeconds:F2} s: {HandshakesPerSecond:F1} handshakes/s"),
            FormattableString.Invariant($"target RSS {RssBeforeKb / 1024.0:F1} MiB before, {RssConnectedKb / 1024.0:F1} MiB connected: {KbPerPeer:F1} KiB per peer"),
        };
        if (More is { } more)
            lines.Add(FormattableString.Invariant(
                $"{more.Peers} more peers: target RSS {more.RssKb / 1024.0:F1} MiB: {MarginalKbPerPeer:F1} KiB per peer more"));
        if (TargetIdleCpuPercent is { } idle)
            lines.Add(FormattableString.Invariant($"target CPU while the peers were idle: {idle:F1} % of a core"));
        if (Traffic is { } t)
        {
            lines.Add(FormattableString.Invariant(
                $"traffic: {t.Size} B per peer every {t.Interval.TotalMilliseconds:0} ms, {t.Echoed} of {t.Sent} echoed in {t.Seconds:F1} s: {t.MessagesPerSecond:F1} messages/s"));
            lines.Add(FormattableString.Invariant(
                $"round trip: p50 {t.Latency.P50Ms:F3} ms, p99 {t.Latency.P99Ms:F3} ms, max {t.Latency.MaxMs:F3} ms"));
            lines.Add(FormattableString.Invariant(
                $"target CPU {t.TargetCpu.TotalSeconds:F2} s: {t.TargetCpuMicrosecondsPerMessage:F1} µs per message; target RSS at the end {t.RssEndKb / 1024.0:F1} MiB"));
        }
        if (DroppedPeers > 0)
            lines.Add($"{DroppedPeers} peers were disconnected during the run");
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>
/// The traffic phase of <c>bench peers</c>: every peer's messages and their echoes. <c>Seconds</c> runs from the first
/// message until the last echo (or the drain timeout); <c>TargetCpu</c> is the target's user + system CPU time over
/// the same span.
/// </summary>
internal sealed record PeersTraffic(int Size, TimeSpan Interval, long Sent, long Echoed, double Seconds, Latency Latency, TimeSpan TargetCpu, long RssEndKb)
{
    public double MessagesPerSecond => Seconds > 0 ? Echoed / Seconds : 0;

    /// <summary>Per echoed message (one received and one sent by the target).</summary>
    public double TargetCpuMicrosecondsPerMessage => Echoed > 0 ? TargetCpu.TotalMicroseconds / Echoed : 0;
}
