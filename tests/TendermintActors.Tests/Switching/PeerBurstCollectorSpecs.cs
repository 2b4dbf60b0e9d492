using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// The switch's collector on Akka's <see cref="TestScheduler"/>: it collects once its start or a burst of peers has
/// settled, and not before, with the collection and the allocation counter standing in for the runtime's.
/// </summary>
public sealed class PeerBurstCollectorSpecs(ITestOutputHelper output)
    : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"", output)
{
    private static readonly Switch.PeerBurstCollection Settings = new()
    {
        MinPeers = 3, MinAllocatedBytes = 1000, QuietPeriod = TimeSpan.FromSeconds(2), MinInterval = TimeSpan.FromMinutes(5),
    };

    private TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    private sealed record Collected;

    private (IActorRef Collector, TestProbe Collections) Start(Func<long> allocated)
    {
        var collections = CreateTestProbe();
        var collector = Sys.ActorOf(PeerBurstCollector.Props(Settings, allocated, () =>
        {
            collections.Ref.Tell(new Collected());
            return new PeerBurstCollector.Outcome(2000, 1000, 500, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2));
        }));
        return (collector, collections);
    }

    /// <summary>Sends <paramref name="peers"/> admissions and waits until the collector has taken them (and set its timer).</summary>
    private void Admit(IActorRef collector, int peers)
    {
        for (var i = 0; i < peers; i++)
            collector.Tell(PeerBurstCollector.PeerAdmitted.Instance);
        // A message behind them: answered once the admissions before it are processed.
        collector.Tell(new Identify(null), TestActor);
        ExpectMsg<ActorIdentity>();
    }

    [Fact]
    public void A_burst_of_peers_is_collected_once_the_quiet_period_has_passed_and_only_once()
    {
        var (collector, collections) = Start(() => 5000);
        Admit(collector, 3);

        Clock.Advance(Settings.QuietPeriod - TimeSpan.FromMilliseconds(10));
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Clock.Advance(TimeSpan.FromMilliseconds(10));
        collections.ExpectMsg<Collected>();

        // Nothing new allocated and no new peer: nothing more, however long.
        Clock.Advance(TimeSpan.FromHours(1));
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void The_start_is_collected_once_it_has_settled_with_no_peer_and_nothing_more_after()
    {
        var (collector, collections) = Start(() => 0);
        // Answered once the collector has started (and set its timer).
        collector.Tell(new Identify(null), TestActor);
        ExpectMsg<ActorIdentity>();

        Clock.Advance(Settings.QuietPeriod - TimeSpan.FromMilliseconds(10));
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Clock.Advance(TimeSpan.FromMilliseconds(10));
        collections.ExpectMsg<Collected>();

        Clock.Advance(TimeSpan.FromHours(1));
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Peers_that_keep_coming_put_the_collection_off_until_they_stop()
    {
        var (collector, collections) = Start(() => 5000);
        Admit(collector, 3);
        Clock.Advance(TimeSpan.FromSeconds(1));
        Admit(collector, 1);
        Clock.Advance(TimeSpan.FromSeconds(1.5)); // 2.5 s after the first three, 1.5 s after the last
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        Clock.Advance(TimeSpan.FromSeconds(0.5));
        collections.ExpectMsg<Collected>();
    }

    [Fact]
    public void A_second_burst_within_the_interval_is_collected_at_its_end()
    {
        long allocated = 5000;
        var (collector, collections) = Start(() => Interlocked.Read(ref allocated));
        Admit(collector, 3);
        Clock.Advance(Settings.QuietPeriod);
        collections.ExpectMsg<Collected>();

        Interlocked.Add(ref allocated, 5000);
        Admit(collector, 3);
        Clock.Advance(Settings.QuietPeriod);
        collections.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Clock.Advance(Settings.MinInterval - Settings.QuietPeriod);
        collections.ExpectMsg<Collected>();
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(3, true)]
    public void The_switch_runs_a_collector_unless_the_setting_is_off(int minPeers, bool expected)
    {
        Assert.Equal(expected, SwitchChildren.Has(this, new Switch.Settings { GcAfterPeerBurst = Settings with { MinPeers = minPeers } }, "burst-collector"));
    }
}
