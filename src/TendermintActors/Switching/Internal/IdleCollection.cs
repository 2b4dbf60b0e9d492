using Akka.Actor;
using Akka.Event;

namespace TendermintActors.Switching;

/// <summary>
/// When to collect the young generations of a process that allocates little (<see cref="Switch.IdleCollection"/>),
/// without I/O or clock: asked at each check with the process's allocated bytes and its count of collections, it
/// answers whether to collect now. It collects once the process has allocated the minimum with no collection, and
/// only after a check interval in which it allocated less than that: a process that allocates as much in one interval
/// is busy, and its garbage is the runtime's to collect (this collection would promote its short-lived objects early,
/// every interval). Any collection since the last check, the runtime's own or another's, starts the count again from
/// what the process had allocated at that check (when the collection ran is not known, so the count is at most one
/// check behind).
/// </summary>
internal sealed class IdleCollectionPolicy(Switch.IdleCollection settings)
{
    private int? _collections; // the count at the last check; null before the first
    private long _allocatedSinceCollection; // from the first check after the last collection
    private long _allocatedAtCheck; // at the last check

    /// <summary>Whether to collect now, the process having allocated <paramref name="allocatedBytes"/> since it started and run <paramref name="collections"/> collections.</summary>
    public bool Check(long allocatedBytes, int collections)
    {
        if (settings.MinAllocatedBytes <= 0)
            return false;
        var inInterval = allocatedBytes - _allocatedAtCheck;
        _allocatedAtCheck = allocatedBytes;
        if (collections != _collections)
        {
            _collections = collections;
            _allocatedSinceCollection = allocatedBytes;
            return false;
        }
        return inInterval < settings.MinAllocatedBytes && allocatedBytes - _allocatedSinceCollection >= settings.MinAllocatedBytes;
    }

    /// <summary>What the process allocated from the first check after the last collection until <paramref name="allocatedBytes"/>.</summary>
    public long AllocatedSinceCollection(long allocatedBytes) => allocatedBytes - _allocatedSinceCollection;

    /// <summary>The collection ran; the process now counts <paramref name="allocatedBytes"/> and <paramref name="collections"/>.</summary>
    public void Collected(long allocatedBytes, int collections)
    {
        _collections = collections;
        _allocatedSinceCollection = allocatedBytes;
        _allocatedAtCheck = allocatedBytes;
    }
}

/// <summary>
/// The switch's child that runs <see cref="IdleCollectionPolicy"/> every <see cref="Switch.IdleCollection.CheckInterval"/>
/// and collects. The counters and the collection itself are given (the runtime's by default) so that specs see the
/// decisions.
/// </summary>
internal sealed class IdleCollector : UntypedActor, IWithTimers
{
    /// <summary>The process's allocated bytes and its count of collections (of gen0, which every collection includes).</summary>
    public readonly record struct Counters(long AllocatedBytes, int Collections);

    /// <summary>What one collection did, for the log.</summary>
    public readonly record struct Outcome(long ResidentBytesBefore, long ResidentBytesAfter, TimeSpan Pause);

    private sealed record CheckDue
    {
        public static readonly CheckDue Instance = new();
    }

    private readonly Switch.IdleCollection _settings;
    private readonly IdleCollectionPolicy _policy;
    private readonly Func<Counters> _counters;
    private readonly Func<Outcome> _collect;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public IdleCollector(Switch.IdleCollection settings, Func<Counters> counters, Func<Outcome> collect)
    {
        _settings = settings;
        _policy = new IdleCollectionPolicy(settings);
        _counters = counters;
        _collect = collect;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Switch.IdleCollection settings) => Props(settings, RuntimeCounters, CollectYoung);

    public static Props Props(Switch.IdleCollection settings, Func<Counters> counters, Func<Outcome> collect) =>
        Akka.Actor.Props.Create(() => new IdleCollector(settings, counters, collect));

    private static Counters RuntimeCounters() => new(GC.GetTotalAllocatedBytes(precise: false), GC.CollectionCount(0));

    /// <summary>
    /// A blocking collection of gen0 and gen1, not compacting unless the runtime finds it worth it: the pause of the
    /// young generations only (survivors are few in an idle process), and the emptied regions are reused for the next
    /// allocations instead of new pages being touched.
    /// </summary>
    private static Outcome CollectYoung()
    {
        var before = Environment.WorkingSet;
        var paused = GC.GetTotalPauseDuration();
        GC.Collect(1, GCCollectionMode.Forced, blocking: true, compacting: false);
        return new Outcome(before, Environment.WorkingSet, GC.GetTotalPauseDuration() - paused);
    }

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(CheckDue.Instance, CheckDue.Instance, _settings.CheckInterval);
        var counters = _counters();
        _policy.Check(counters.AllocatedBytes, counters.Collections); // the first check only starts the count
    }

    protected override void OnReceive(object message)
    {
        if (message is not CheckDue)
        {
            Unhandled(message);
            return;
        }
        var counters = _counters();
        if (!_policy.Check(counters.AllocatedBytes, counters.Collections))
            return;
        var allocated = _policy.AllocatedSinceCollection(counters.AllocatedBytes);
        var outcome = _collect();
        var after = _counters();
        _policy.Collected(after.AllocatedBytes, after.Collections);
        _log.Debug("Collected the young generations, {Allocated:0.0} MiB allocated with no collection: resident set {Before:0.0} -> {After:0.0} MiB, pause {Pause:0.0} ms",
            allocated / 1048576.0, outcome.ResidentBytesBefore / 1048576.0, outcome.ResidentBytesAfter / 1048576.0,
            outcome.Pause.TotalMilliseconds);
    }
}
