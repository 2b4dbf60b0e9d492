using System.Diagnostics.Metrics;
using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Metrics;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// The node-wide buffer budget (<c>max-buffered-bytes</c>) through whole switches on the in-memory transport, with
/// Akka's TestScheduler: peers that each send part of a large message and stall (their send rate limit's burst
/// spent, and its refill timer only runs when the test advances the clock) hold partial bytes at the receiver; over
/// the budget the largest are paused, then dropped past the deadline, while another peer keeps exchanging messages.
/// </summary>
public sealed class BufferBudgetSpecs(ITestOutputHelper output)
    : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"", output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private const byte Channel = 0x40;
    private InMemoryNetwork? _networkInstance;
    private InMemoryNetwork Network => _networkInstance ??= InMemoryNetwork.Create(Sys);
    private int _nodes;

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private sealed record Node(NodeKey Key, IActorRef Switch, TestProbe Reactor, TestProbe Events, NetAddress Address);

    private async Task<Node> StartNode(Func<Switch.Settings, Switch.Settings>? configure = null, P2PMetrics? metrics = null)
    {
        var name = $"n{++_nodes}";
        var key = NodeKey.Generate();
        var reactor = CreateTestProbe();
        var settings = new Switch.Settings { ListenHost = "127.0.0.1", ListenPort = 0, Moniker = name, DialStartJitter = TimeSpan.Zero,
            AllowDuplicateIp = true }; // every in-memory node has the same IP
        settings = configure?.Invoke(settings) ?? settings;
        var registration = new ReactorRegistration("reactor", Sys.ActorOf(RecordingReactor.Props(reactor.Ref), $"{name}-reactor"),
            [new ChannelDescriptor(Channel, 1)]);
        var sw = Sys.ActorOf(Switch.Props(key, settings, [registration], new InMemoryTransport(Network), metrics), $"{name}-switch");
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var endpoint = (IPEndPoint)(await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout))).ListenAddress!;
        return new Node(key, sw, reactor, events, new NetAddress(key.Id, endpoint.Address, endpoint.Port));
    }

    /// <summary>Connects <paramref name="from"/> to <paramref name="to"/>; returns each side's handle of the other.</summary>
    private async Task<(PeerHandle AtFrom, PeerHandle AtTo)> Connect(Node from, Node to)
    {
        from.Switch.Tell(new Switch.DialPeers([to.Address]));
        var atFrom = (await from.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        var atTo = (Reactor.PeerAdded)await to.Reactor.FishForMessageAsync(
            m => m is Reactor.PeerAdded added && added.Peer.Id == from.Key.Id, Dilated(Timeout));
        return (atFrom, atTo.Peer);
    }

    private async Task<bool> ReceivePaused(PeerHandle peer)
    {
        var probe = CreateTestProbe();
        peer.Actor.Tell(Peer.GetStatus.Instance, probe.Ref);
        return (await probe.ExpectMsgAsync<Peer.Status>(Dilated(Timeout))).Connection.ReceivePaused;
    }

    private async Task Exchange(PeerHandle sender, Node receiver, byte marker)
    {
        sender.TrySend(Channel, new[] { marker }, TestActor, marker);
        Assert.True((await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout))).Accepted);
        await receiver.Reactor.FishForMessageAsync(
            m => m is Reactor.Received r && r.Message.Length == 1 && r.Message.Span[0] == marker, Dilated(Timeout));
    }

    [Fact]
    public async Task Peers_holding_the_most_partial_bytes_are_paused_then_dropped_while_another_peer_keeps_flowing()
    {
        // Each staller gets ~200 KB of its message through (a 2 MB/s send rate's 100 ms burst) and then stalls: four
        // of them hold ~800 KB at the receiver, over its 500 KB budget.
        const int stallers = 4;
        var budgetTimeout = TimeSpan.FromSeconds(30);
        var chainId = $"budget-{Guid.NewGuid():N}";
        var seen = new List<(string Name, long Value)>();
        using var listener = Listen(chainId, seen);
        using var metrics = new P2PMetrics(chainId);
        var receiver = await StartNode(s => s with
        {
            MaxBufferedBytes = 500_000,
            BufferedBytesTimeout = budgetTimeout,
            Connection = s.Connection with { RecvRate = 0 },
        }, metrics);
        var good = await StartNode();
        var (goodAtGood, goodAtReceiver) = await Connect(good, receiver);

        var stalled = new Dictionary<NodeId, PeerHandle>();
        for (var i = 0; i < stallers; i++)
        {
            var staller = await StartNode(s => s with { Connection = s.Connection with { SendRate = 2_000_000 } });
            var (atStaller, atReceiver) = await Connect(staller, receiver);
            stalled[atReceiver.Id] = atReceiver;
            atStaller.TrySend(Channel, new byte[4 * 1024 * 1024], TestActor, i);
            Assert.True((await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout))).Accepted);
        }

        // The largest holders are paused: their reads stop. Some stallers still read (pausing stops once the others
        // fit in three quarters of the budget), and the good peer is never paused.
        var paused = new List<NodeId>();
        await AwaitAssertAsync(async () =>
        {
            paused.Clear();
            foreach (var (id, peer) in stalled)
                if (await ReceivePaused(peer))
                    paused.Add(id);
            Assert.InRange(paused.Count, 1, stallers - 1);
        }, Dilated(Timeout));
        Assert.False(await ReceivePaused(goodAtReceiver));
        await Exchange(goodAtGood, receiver, 1);
        await Exchange(goodAtReceiver, good, 2);

        // Past the deadline the paused peers are dropped with the budget's reason; the good peer stays.
        Scheduler.Advance(budgetTimeout);
        var dropped = new HashSet<NodeId>();
        while (!dropped.IsSupersetOf(paused))
        {
            var disconnected = (Switch.PeerDisconnected)await receiver.Events.FishForMessageAsync(
                m => m is Switch.PeerDisconnected, Dilated(Timeout));
            Assert.Equal("budget/exceeded", disconnected.Reason.Code);
            Assert.False(disconnected.Reason.IsError);
            Assert.NotEqual(good.Key.Id, disconnected.Peer.Id);
            dropped.Add(disconnected.Peer.Id);
        }
        await Exchange(goodAtGood, receiver, 3);
        await Exchange(goodAtReceiver, good, 4);

        // The metrics show the budget, its use past it, and the pauses.
        lock (seen)
        {
            Assert.Equal(500_000, seen.Where(m => m.Name == "cometbft_p2p_max_buffered_bytes").Sum(m => m.Value));
            // One measurement per decision, whose value is the number of peers it paused.
            Assert.True(seen.Where(m => m.Name == "cometbft_p2p_buffer_budget_pauses").Sum(m => m.Value) >= paused.Count);
            var use = seen.Where(m => m.Name == "cometbft_p2p_buffered_bytes").Select(m => m.Value).ToList();
            var running = use.Select((_, i) => use.Take(i + 1).Sum()).ToList();
            Assert.True(running.Max() > 500_000, $"buffered bytes peaked at {running.Max()}");
        }
    }

    private static MeterListener Listen(string chainId, List<(string, long)> seen)
    {
        var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == P2PMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "chain_id" && Equals(tag.Value, chainId))
                    lock (seen) seen.Add((instrument.Name, value));
        });
        listener.Start();
        return listener;
    }

    [Fact]
    public async Task Without_a_budget_no_peer_is_paused()
    {
        var receiver = await StartNode(s => s with { MaxBufferedBytes = 0, Connection = s.Connection with { RecvRate = 0 } });
        var stalled = new List<PeerHandle>();
        for (var i = 0; i < 4; i++)
        {
            var staller = await StartNode(s => s with { Connection = s.Connection with { SendRate = 2_000_000 } });
            var (atStaller, atReceiver) = await Connect(staller, receiver);
            stalled.Add(atReceiver);
            atStaller.TrySend(Channel, new byte[4 * 1024 * 1024], TestActor, i);
            Assert.True((await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout))).Accepted);
        }
        // The bursts arrive (the status answer comes after what the stage had read), and nobody is paused.
        foreach (var peer in stalled)
            Assert.False(await ReceivePaused(peer));
    }
}
