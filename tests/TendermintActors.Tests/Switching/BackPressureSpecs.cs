using System.Net;
using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// Every queue between a reactor and the socket is bounded: sends waiting for room (per peer and channel), and
/// broadcasts through them. On the in-memory transport with Akka's TestScheduler: a node sending at a few bytes per
/// second sends its first message on credit and nothing more until the test moves the clock, so its queues are full
/// deterministically.
/// </summary>
public sealed class BackPressureSpecs(ITestOutputHelper output)
    : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"", output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private InMemoryNetwork? _networkInstance;
    private InMemoryNetwork Network => _networkInstance ??= InMemoryNetwork.Create(Sys);
    private int _nodes;

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private sealed record Node(NodeKey Key, IActorRef Switch, TestProbe Reactor, TestProbe Events, NetAddress Address);

    private async Task<Node> StartNode(ChannelDescriptor[] channels, Func<SwitchSettings, SwitchSettings>? configure = null)
    {
        var name = $"n{++_nodes}";
        var key = NodeKey.Generate();
        var reactor = CreateTestProbe();
        var settings = new SwitchSettings { ListenHost = "127.0.0.1", ListenPort = 0, Moniker = name, DialStartJitter = TimeSpan.Zero };
        settings = configure?.Invoke(settings) ?? settings;
        var registration = new ReactorRegistration("recorder", Sys.ActorOf(RecordingReactor.Props(reactor.Ref), $"{name}-reactor"), channels);
        var sw = Sys.ActorOf(Switch.Props(key, settings, [registration], new InMemoryTransport(Network)), $"{name}-switch");
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var endpoint = (IPEndPoint)(await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout))).ListenAddress!;
        return new Node(key, sw, reactor, events, new NetAddress(key.Id, endpoint.Address, endpoint.Port));
    }

    /// <summary>a, sending at <paramref name="sendRate"/> B/s, connected to b; returns b as a's peer.</summary>
    private async Task<(Node A, Node B, PeerHandle Peer)> SlowSenderAndReceiver(ChannelDescriptor[] channels, long sendRate,
        TimeSpan? sendTimeout = null)
    {
        var a = await StartNode(channels, s => s with
        {
            SendTimeout = sendTimeout ?? s.SendTimeout,
            Connection = s.Connection with { SendRate = sendRate, PingInterval = TimeSpan.FromSeconds(200) },
        });
        var b = await StartNode(channels);
        a.Switch.Tell(new Switch.DialPeers([b.Address]));
        var peer = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        await b.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout));
        await a.Events.ExpectMsgAsync<Switch.PeerConnected>(Dilated(Timeout));
        return (a, b, peer);
    }

    private static byte[] Text(string s) => Encoding.UTF8.GetBytes(s);

    private async Task<Peer.SendResult> Result() => await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout));

    /// <summary>Sends the first message (it leaves on credit), then fills the channel's queue with TrySend.</summary>
    private async Task FillQueue(PeerHandle peer, Node receiver, byte channel, int capacity)
    {
        peer.Send(channel, Text("first"), TestActor);
        Assert.True((await Result()).Accepted);
        Assert.Equal("first", Encoding.UTF8.GetString((await receiver.Reactor.ExpectMsgAsync<Reactor.Received>(Dilated(Timeout))).Message.Span));
        for (var i = 0; i <= capacity; i++)
        {
            peer.TrySend(channel, Text($"q{i}"), TestActor);
            Assert.True((await Result()).Accepted);
        }
        peer.TrySend(channel, Text("refused"), TestActor);
        Assert.False((await Result()).Accepted);
    }

    [Fact]
    public async Task Sends_waiting_for_room_are_bounded_per_channel_and_the_next_is_refused_at_once()
    {
        ChannelDescriptor[] channels = [new(0x40, 1) { SendQueueCapacity = 2 }, new(0x41, 1)];
        var (_, b, peer) = await SlowSenderAndReceiver(channels, sendRate: 1);
        await FillQueue(peer, b, 0x40, capacity: 2);

        // Two sends (the channel's SendQueueCapacity) may wait for room; the third is refused without the clock
        // moving. Answers come in order, so the first answer being the third's shows the first two still wait.
        peer.Send(0x40, Text("w1"), TestActor, 1);
        peer.Send(0x40, Text("w2"), TestActor, 2);
        peer.Send(0x40, Text("w3"), TestActor, 3);
        Assert.Equal(new Peer.SendResult(0x40, false, 3), await Result());

        // Another channel has its own queue and its own bound (capacity 1: one being written, one queued, one waiting).
        peer.TrySend(0x41, Text("a"), TestActor);
        Assert.True((await Result()).Accepted);
        peer.TrySend(0x41, Text("b"), TestActor);
        Assert.True((await Result()).Accepted);
        peer.Send(0x41, Text("c"), TestActor, "c");
        peer.Send(0x41, Text("d"), TestActor, "d");
        Assert.Equal(new Peer.SendResult(0x41, false, "d"), await Result());

        // The waiting ones were waiting: they give up after the send timeout, in order, and then a send may wait again.
        Scheduler.Advance(TimeSpan.FromSeconds(10));
        var expired = new[] { await Result(), await Result(), await Result() };
        Assert.Equal([1, 2, "c"], expired.Select(r => r.CorrelationId!));
        Assert.All(expired, r => Assert.False(r.Accepted));
        peer.Send(0x40, Text("w4"), TestActor, 4);
        peer.Send(0x40, Text("w5"), TestActor, 5);
        peer.Send(0x40, Text("w6"), TestActor, 6);
        Assert.Equal(new Peer.SendResult(0x40, false, 6), await Result());
    }

    [Fact]
    public async Task A_broadcast_beyond_the_waiting_bound_is_dropped_at_once_and_never_sent()
    {
        ChannelDescriptor[] channels = [new(0x40, 1) { SendQueueCapacity = 1 }];
        // A long send timeout: the waiting send must still be waiting when the queue drains below.
        var (a, b, peer) = await SlowSenderAndReceiver(channels, sendRate: 10, sendTimeout: TimeSpan.FromHours(1));
        await FillQueue(peer, b, 0x40, capacity: 1);
        peer.Send(0x40, Text("w1"), TestActor, 1); // the one send that may wait

        a.Switch.Tell(new Switch.Broadcast(0x40, Text("broadcast")));
        // Once the switch answers, it has handed the broadcast to the peer's mailbox, ahead of what we send next.
        a.Switch.Tell(Switch.GetPeers.Instance);
        await ExpectMsgAsync<Switch.Peers>(Dilated(Timeout));
        peer.Send(0x40, Text("w2"), TestActor, 2);
        Assert.Equal(new Peer.SendResult(0x40, false, 2), await Result());

        // Let the queue drain: the queued messages, then the waiting one, are delivered; the broadcast never is.
        Assert.Equal(["q0", "q1", "w1"], [await NextDelivered(b), await NextDelivered(b), await NextDelivered(b)]);
        Assert.Equal(new Peer.SendResult(0x40, true, 1), await Result());
        peer.Send(0x40, Text("end"), TestActor, "end");
        Assert.Equal("end", await NextDelivered(b));
    }

    /// <summary>Moves the clock in steps (the send budget refills on it) until the receiver's reactor gets a message.</summary>
    private async Task<string> NextDelivered(Node receiver)
    {
        for (var step = 0; step < 600; step++)
        {
            if (await receiver.Reactor.ReceiveOneAsync(TimeSpan.FromMilliseconds(50)) is { } message)
                return Encoding.UTF8.GetString(Assert.IsType<Reactor.Received>(message).Message.Span);
            Scheduler.Advance(TimeSpan.FromSeconds(1));
        }
        throw new Xunit.Sdk.XunitException("nothing was delivered");
    }
}
