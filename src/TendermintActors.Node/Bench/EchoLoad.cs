using System.Diagnostics;
using Akka.Actor;
using TendermintActors.Peers;

namespace TendermintActors.Node.Bench;

/// <summary>
/// The bulk transfer of <c>bench echo --load-channel</c>: an unbounded <see cref="BulkSender"/> keeping a few messages
/// queued on the load channel, measured by the bytes the connection wrote (not by what was queued). Before the round
/// trips it runs alone on the same connection, first until this process's JIT has settled and then for a timed
/// baseline, so that what it keeps while the round trips run is compared with itself unloaded, not with another sender.
/// </summary>
internal sealed class EchoLoad
{
    private readonly PeerHandle _peer;
    private readonly TimeSpan _timeout;
    private long _bytes;
    private long _at;

    private EchoLoad(IActorRef sender, PeerHandle peer, TimeSpan timeout, long bytesAtStart)
    {
        Sender = sender;
        _peer = peer;
        _timeout = timeout;
        _bytes = bytesAtStart;
        _at = Stopwatch.GetTimestamp();
    }

    public IActorRef Sender { get; }

    /// <summary>MB/s the connection wrote alone over the baseline; null when there was none.</summary>
    public double? UnloadedMegabytesPerSecond { get; private set; }

    /// <summary>How the load's warm-up (before the baseline) ended, for stderr.</summary>
    public string WarmupOutcome { get; private set; } = "";

    /// <summary>Starts the bulk transfer and waits until it has written its first megabyte, so that it is known to flow.</summary>
    public static async Task<EchoLoad> Start(BenchNode node, PeerHandle peer, byte channel, int size, TimeSpan timeout, CancellationToken cancellation)
    {
        var message = new byte[size];
        Random.Shared.NextBytes(message);
        // Enough queued to keep the connection busy between two SendResults, few enough that the figure is what was written.
        var window = Math.Max(4, (int)Math.Min(BenchNode.SendQueueCapacity, 4L * 1024 * 1024 / size));
        var sender = node.System.ActorOf(BulkSender.Props(peer, channel, message, long.MaxValue, window), "load");
        sender.Tell(BulkSender.Start.Instance);
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var status = await peer.Actor.Ask<Peer.Status>(Peer.GetStatus.Instance, timeout, cancellation);
            if (status.Connection.BytesSent >= 1_000_000)
                return new EchoLoad(sender, peer, timeout, status.Connection.BytesSent);
            if (Stopwatch.GetTimestamp() > deadline)
                throw new TimeoutException($"the bulk transfer on channel 0x{channel:x2} did not get going within {timeout.TotalSeconds:0.###} s: does the target have that channel (start --sink-channel)?");
            await Task.Delay(TimeSpan.FromMilliseconds(10), cancellation);
        }
    }

    /// <summary>
    /// The load-only phase: the bulk transfer alone until the JIT has settled (<paramref name="warmup"/>), then for
    /// <paramref name="baseline"/>, whose rate becomes <see cref="UnloadedMegabytesPerSecond"/> (none when zero). The
    /// next <see cref="Rate"/> counts from its end.
    /// </summary>
    public async Task RunAlone(JitSettling warmup, TimeSpan baseline, CancellationToken cancellation)
    {
        var started = Stopwatch.GetTimestamp();
        while (!warmup.IsSettled(Stopwatch.GetElapsedTime(started), System.Runtime.JitInfo.GetCompilationTime()))
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellation);
        WarmupOutcome = FormattableString.Invariant($"{Stopwatch.GetElapsedTime(started).TotalSeconds:0.00} s ({warmup.Outcome})");
        await Rate(cancellation);
        if (baseline <= TimeSpan.Zero) return;
        await Task.Delay(baseline, cancellation);
        UnloadedMegabytesPerSecond = await Rate(cancellation);
    }

    /// <summary>MB/s written on the connection since the last call (the round trips' own bytes are negligible).</summary>
    public async Task<double> Rate(CancellationToken cancellation)
    {
        var status = await _peer.Actor.Ask<Peer.Status>(Peer.GetStatus.Instance, _timeout, cancellation);
        var now = Stopwatch.GetTimestamp();
        var seconds = (double)(now - _at) / Stopwatch.Frequency;
        var rate = seconds > 0 ? (status.Connection.BytesSent - _bytes) / seconds / 1e6 : 0;
        (_bytes, _at) = (status.Connection.BytesSent, now);
        return rate;
    }
}
