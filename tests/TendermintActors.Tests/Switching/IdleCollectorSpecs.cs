using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Transport;
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

    private sealed record Collected;

    /// <summary>The process's counters as the specs set them; every collection (ours included) adds one to the count.</summary>
    private sealed class Process
    {
        private long _allocated;
        private int _collections;
        public void Allocate(long bytes) => Interlocked.Add(ref _allocated, bytes);
        public void CollectOnItsOwn() => Interlocked.Increment(ref _collections);
        public IdleCollector.Counters Read() => new(Interlocked.Read(ref _allocated), Volatile.Read(ref _collections));
    }

    private (Process Process, TestProbe Collections) Start()
    {
        var process = new Process();
        var collections = CreateTestProbe();
        var collector = Sys.ActorOf(IdleCollector.Props(Settings, process.Read, () =>
        {
            process.CollectOnItsOwn();
            collections.Ref.Tell(new Collected());
            return new IdleCollector.Outcome(2000, 1000, TimeSpan.FromMilliseconds(1));
        }));
        // Answered once the collector has started (read the counters, set its timer).
        collector.Tell(new Identify(null), TestActor);
        ExpectMsg<ActorIdentity>();
        return (process, collections);
    }

    [Fact]
    public void Allocations_with_no_collection_are_collected_at_the_next_check_and_only_then()
    {
        var (process, collections) = Start();
        process.Allocate(999);
        Clock.Advance(Settings.CheckInterval);
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        process.Allocate(1);
        Clock.Advance(Settings.CheckInterval - TimeSpan.FromMilliseconds(10));
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Clock.Advance(TimeSpan.FromMilliseconds(10));
        collections.ExpectMsg<Collected>();

        // Nothing allocated since: nothing more, however many checks.
        Clock.Advance(TimeSpan.FromHours(1));
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        process.Allocate(1000);
        Clock.Advance(Settings.CheckInterval);
        collections.ExpectMsg<Collected>();
    }

    [Fact]
    public void A_process_that_collects_on_its_own_between_checks_is_left_alone()
    {
        var (process, collections) = Start();
        for (var check = 0; check < 20; check++)
        {
            process.Allocate(100_000);
            process.CollectOnItsOwn();
            Clock.Advance(Settings.CheckInterval);
        }
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        // Once it stops collecting on its own, its allocations count from the first check after its last collection.
        process.Allocate(100_000);
        Clock.Advance(Settings.CheckInterval);
        collections.ExpectMsg<Collected>();
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1000, true)]
    public void The_switch_runs_an_idle_collector_unless_the_setting_is_off(long minAllocated, bool expected)
    {
        var settings = new Switch.Settings { ListenHost = null, GcWhenIdle = Settings with { MinAllocatedBytes = minAllocated } };
        var reactors = new[] { new ReactorRegistration("echo", TestActor, [new ChannelDescriptor(0x42, 1)]) };
        var sw = Sys.ActorOf(Switch.Props(NodeKey.Generate(), settings, reactors,
            new InMemoryTransport(InMemoryNetwork.Create(Sys))), "switch");
        // Answered once the switch has started (and made its children).
        sw.Tell(new Identify("started"));
        ExpectMsg<ActorIdentity>();

        Sys.ActorSelection(sw.Path / "idle-collector").Tell(new Identify("collector"));

        Assert.Equal(expected, ExpectMsg<ActorIdentity>().Subject is not null);
    }
}
