using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// The switch's idle collector on Akka's <see cref="TestScheduler"/>: it reads the counters every check interval and
/// collects once the process has allocated enough with no collection, with the counters and the collection standing
/// in for the runtime's.
/// </summary>
public sealed class IdleCollectorSpecs(ITestOutputHelper output)
    : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"", output)
{
    private static readonly Switch.IdleCollection Settings = new() { MinAllocatedBytes = 1000, CheckInterval = TimeSpan.FromSeconds(10) };

    private TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    private sealed record Read;
    private sealed record Collected;

    /// <summary>
    /// The process's counters as the specs set them; every collection (ours included) adds one to the count. Each
    /// read of the counters and each collection is told to the probe, in order: a spec knows a check is done when its
    /// read (and collection) have come.
    /// </summary>
    private sealed class Process(IActorRef events)
    {
        private long _allocated;
        private int _collections;
        public void Allocate(long bytes) => Interlocked.Add(ref _allocated, bytes);
        public void CollectOnItsOwn() => Interlocked.Increment(ref _collections);

        public IdleCollector.Counters Read()
        {
            // Read first, then told: the spec, woken by the event, may allocate for the next check at once.
            var counters = new IdleCollector.Counters(Interlocked.Read(ref _allocated), Volatile.Read(ref _collections));
            events.Tell(new Read());
            return counters;
        }

        public IdleCollector.Outcome Collect()
        {
            CollectOnItsOwn();
            events.Tell(new Collected());
            return new IdleCollector.Outcome(2000, 1000, TimeSpan.FromMilliseconds(1));
        }
    }

    private (Process Process, TestProbe Events) Start()
    {
        var events = CreateTestProbe();
        var process = new Process(events.Ref);
        Sys.ActorOf(IdleCollector.Props(Settings, process.Read, process.Collect));
        events.ExpectMsg<Read>(); // the start: its first read only starts the count
        return (process, events);
    }

    /// <summary>Moves the clock to the next check and waits until it is done: a read, or a read, a collection and a read.</summary>
    private void Check(TestProbe events, bool collects)
    {
        Clock.Advance(Settings.CheckInterval);
        events.ExpectMsg<Read>();
        if (!collects) return;
        events.ExpectMsg<Collected>();
        events.ExpectMsg<Read>();
    }

    [Fact]
    public void Allocations_with_no_collection_are_collected_at_the_first_quiet_check_and_only_then()
    {
        var (process, events) = Start();
        process.Allocate(999);
        Check(events, collects: false);
        process.Allocate(1);
        Check(events, collects: true);

        // Nothing allocated since: nothing more, however many checks.
        for (var i = 0; i < 5; i++)
            Check(events, collects: false);

        // The minimum within one interval: busy, left to the runtime; collected at the next check, a quiet one.
        process.Allocate(1000);
        Check(events, collects: false);
        Check(events, collects: true);
        events.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_process_that_collects_on_its_own_between_checks_is_left_alone()
    {
        var (process, events) = Start();
        for (var check = 0; check < 20; check++)
        {
            process.Allocate(500);
            process.CollectOnItsOwn();
            Check(events, collects: false);
        }

        // Once it stops collecting on its own, its allocations count from the first check after its last collection.
        process.Allocate(500);
        Check(events, collects: false);
        process.Allocate(500);
        Check(events, collects: true);
    }

    [Fact]
    public void A_process_that_allocates_the_minimum_every_interval_is_left_to_the_runtime()
    {
        var (process, events) = Start();
        for (var check = 0; check < 20; check++)
        {
            process.Allocate(5000);
            Check(events, collects: false);
        }

        Check(events, collects: true); // a quiet interval
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1000, true)]
    public void The_switch_runs_an_idle_collector_unless_the_setting_is_off(long minAllocated, bool expected)
    {
        Assert.Equal(expected, SwitchChildren.Has(this, new Switch.Settings { GcWhenIdle = Settings with { MinAllocatedBytes = minAllocated } }, "idle-collector"));
    }
}
