using Akka.Actor;
using Akka.Event;

namespace TendermintActors.Switching;

/// <summary>
/// When to collect after a burst of new peers (<see cref="Switch.PeerBurstCollection"/>), without I/O or clock: told
/// of each admitted peer and asked at explicit times with the process's allocated bytes, it answers collect now, ask
/// again at a time, or nothing to do until the next peer. The switch's start counts as a burst of its own: starting
/// a process leaves garbage (configuration, first use of every type) that an idle node never collects either.
/// </summary>
internal sealed class PeerBurstCollectionPolicy(Switch.PeerBurstCollection settings)
{
    private bool _startPending;
    private int _peers; // admitted since the last collection
    private DateTimeOffset _lastPeer;
    private DateTimeOffset? _lastCollection;
    private long _allocatedAtLastCollection; // the process's allocations count from its start until the first

    /// <summary>What to do when asked.</summary>
    /// <param name="Collect">Collect now.</param>
    /// <param name="AskAgainAt">Otherwise, when to ask again; null: not before the next peer.</param>
    public readonly record struct Decision(bool Collect, DateTimeOffset? AskAgainAt);

    /// <summary>The switch started at <paramref name="now"/>: collect once it has settled, as after a burst.</summary>
    public void Started(DateTimeOffset now)
    {
        _startPending = true;
        _lastPeer = now;
    }

    /// <summary>Whether the collection due is the one after the start (for the log).</summary>
    public bool AfterStart => _startPending;

    public void PeerAdmitted(DateTimeOffset now)
    {
        _peers++;
        _lastPeer = now;
    }

    /// <summary>Whether to collect at <paramref name="now"/>, the process having allocated <paramref name="allocatedBytes"/> since it started.</summary>
    public Decision Check(DateTimeOffset now, long allocatedBytes)
    {
        if (settings.MinPeers <= 0 || (_peers < settings.MinPeers && !_startPending))
            return new Decision(false, null);
        // Settled: no new peer for the quiet period; and not sooner than the interval after the last collection.
        var due = _lastPeer + settings.QuietPeriod;
        if (_lastCollection is { } last && last + settings.MinInterval > due)
            due = last + settings.MinInterval;
        if (now < due)
            return new Decision(false, due);
        // After a burst, less allocated than that and there is little to hand back (most of it taken by ordinary
        // collections); the peers still count, the next one asks again. After the start, what it allocated is
        // garbage nothing else collects, whatever its size (an idle node is ~4 MB smaller after it).
        if (!_startPending && allocatedBytes - _allocatedAtLastCollection < settings.MinAllocatedBytes)
            return new Decision(false, null);
        return new Decision(true, null);
    }

    public void Collected(DateTimeOffset now, long allocatedBytes)
    {
        // The interval bounds how often a burst's heap is collected; the start's collection, of a small heap with a
        // pause of a few milliseconds, does not hold the first burst back.
        if (!_startPending || _peers >= settings.MinPeers)
            _lastCollection = now;
        _startPending = false;
        _peers = 0;
        _allocatedAtLastCollection = allocatedBytes;
    }
}

/// <summary>
/// The switch's child that runs <see cref="PeerBurstCollectionPolicy"/> on the scheduler's clock and collects. The
/// collection itself and the allocation counter are given (the runtime's by default) so that specs see the decisions.
/// </summary>
internal sealed class PeerBurstCollector : UntypedActor, IWithTimers
{
    /// <summary>From the switch: a peer was admitted.</summary>
    public sealed record PeerAdmitted : IDeadLetterSuppression
    {
        public static readonly PeerAdmitted Instance = new();
    }

    private sealed record CheckDue
    {
        public static readonly CheckDue Instance = new();
    }

    /// <summary>What one collection did, for the log.</summary>
    public readonly record struct Outcome(long ResidentBytesBefore, long ResidentBytesAfter, long CommittedBytesAfter, TimeSpan Pause, TimeSpan Elapsed);

    private readonly PeerBurstCollectionPolicy _policy;
    private readonly Func<long> _allocatedBytes;
    private readonly Func<Outcome> _collect;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public PeerBurstCollector(Switch.PeerBurstCollection settings, Func<long> allocatedBytes, Func<Outcome> collect)
    {
        _policy = new PeerBurstCollectionPolicy(settings);
        _allocatedBytes = allocatedBytes;
        _collect = collect;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Switch.PeerBurstCollection settings) =>
        Props(settings, () => GC.GetTotalAllocatedBytes(precise: false), CollectAggressively);

    public static Props Props(Switch.PeerBurstCollection settings, Func<long> allocatedBytes, Func<Outcome> collect) =>
        Akka.Actor.Props.Create(() => new PeerBurstCollector(settings, allocatedBytes, collect));

    /// <summary>
    /// A full, blocking, compacting collection that also returns the freed memory to the OS (a forced collection keeps
    /// the emptied regions for reuse, and the resident set stays where it was), then the same for the native heap. It
    /// stops every managed thread whichever thread asks, so it runs here rather than being handed to another.
    /// </summary>
    private static Outcome CollectAggressively()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var before = Environment.WorkingSet;
        var paused = GC.GetTotalPauseDuration();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        TrimNativeHeap();
        return new Outcome(before, Environment.WorkingSet, GC.GetGCMemoryInfo().TotalCommittedBytes, GC.GetTotalPauseDuration() - paused,
            System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// Returns the native heap's free pages to the OS (glibc's <c>malloc_trim</c>): what the runtime and the crypto
    /// and socket libraries freed during the burst. Elsewhere (musl, other OSes) there is no such call and nothing is done.
    /// </summary>
    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    protected override void PreStart()
    {
        _policy.Started(Now);
        Check();
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case PeerAdmitted:
                _policy.PeerAdmitted(Now);
                Check();
                break;
            case CheckDue:
                Check();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Check()
    {
        var now = Now;
        var decision = _policy.Check(now, _allocatedBytes());
        if (decision.Collect)
        {
            Timers.Cancel(CheckDue.Instance);
            var afterStart = _policy.AfterStart;
            var outcome = _collect();
            _policy.Collected(now, _allocatedBytes());
            _log.Info("Collected after {What}: resident set {Before:0.0} -> {After:0.0} MiB (GC heap committed {Committed:0.0} MiB), pause {Pause:0.0} ms, {Elapsed:0.0} ms in all",
                afterStart ? "the switch started" : "a burst of new peers", outcome.ResidentBytesBefore / 1048576.0, outcome.ResidentBytesAfter / 1048576.0,
                outcome.CommittedBytesAfter / 1048576.0, outcome.Pause.TotalMilliseconds,
                outcome.Elapsed.TotalMilliseconds);
        }
        else if (decision.AskAgainAt is { } at)
            Timers.StartSingleTimer(CheckDue.Instance, CheckDue.Instance, at - now);
    }
}
