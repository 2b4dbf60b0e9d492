using System.Net;
using System.Text;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
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
/// Every queue between a reactor and the socket is bounded: inbound connections reach the switch one per demand;
/// sends waiting for room are bounded per peer and channel, and broadcasts go through that bound. On the in-memory transport with Akka's TestScheduler: a node sending at a few bytes per
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

    private async Task<Node> StartNode(ChannelDescriptor[] channels, Func<Switch.Settings, Switch.Settings>? configure = null)
    {
        var name = $"n{++_nodes}";
        var key = NodeKey.Generate();
        var reactor = CreateTestProbe();
        var settings = new Switch.Settings { ListenHost = "127.0.0.1", ListenPort = 0, Moniker = name, DialStartJitter = TimeSpan.Zero };
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

    [Fact]
    public async Task The_listener_accepts_at_most_one_connection_ahead_of_a_switch_that_has_not_acknowledged()
    {
        var transport = new InMemoryTransport(Network);
        // What passes this point the switch's side has pulled: it is accepted, out of the transport's backlog.
        var accepted = CreateTestProbe();
        var listener = transport.Bind("127.0.0.1", 0).Select(c =>
        {
            accepted.Tell(c.RemoteAddress);
            return c;
        });
        var sw = CreateTestProbe(); // stands in for the switch, so that the spec decides when it acknowledges
        var bound = (IPEndPoint)(await SwitchActor.Listen(listener, sw.Ref, Sys.Materializer()).WaitAsync(Dilated(Timeout))).LocalAddress;
        for (var i = 0; i < 4; i++)
        {
            // Connected once in the transport's backlog, as a TCP connect completes before the server accepts.
            await Source.Never<ByteString>()
                .ViaMaterialized(transport.Dial(bound.Address.ToString(), bound.Port, Timeout), Keep.Right)
                .To(Sink.Ignore<ByteString>())
                .Run(Sys.Materializer())
                .WaitAsync(Dilated(Timeout));
        }

        await sw.ExpectMsgAsync<SwitchActor.ListenerReady>(Dilated(Timeout));
        var taken = new List<EndPoint> { await accepted.ExpectMsgAsync<EndPoint>(Dilated(Timeout)) };
        await accepted.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        for (var i = 0; i < 3; i++)
        {
            sw.Reply(SwitchActor.ConnectionTaken.Instance);
            Assert.Equal(taken[i], (await sw.ExpectMsgAsync<TransportConnection>(Dilated(Timeout))).RemoteAddress);
            // The switch holds connection i unacknowledged: the listener has taken the next one and no more.
            taken.Add(await accepted.ExpectMsgAsync<EndPoint>(Dilated(Timeout)));
            await accepted.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
        }
        Assert.Equal(4, taken.Distinct().Count());
    }

    [Fact]
    public async Task The_switch_acknowledges_each_inbound_connection_so_that_the_next_is_accepted()
    {
        ChannelDescriptor[] channels = [new(0x40, 1)];
        var server = await StartNode(channels, s => s with { AllowDuplicateIp = true }); // in memory, every client is 127.0.0.1
        for (var i = 0; i < 5; i++)
        {
            var client = await StartNode(channels, s => s with { AllowDuplicateIp = true });
            client.Switch.Tell(new Switch.DialPeers([server.Address]));
        }
        for (var i = 0; i < 5; i++)
            await server.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout));
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

    /// <summary>Sends that wait, each with its number as correlation id (1, 2, …), then one more that is refused at once.</summary>
    private async Task FillWaiting(PeerHandle peer, ChannelDescriptor channel)
    {
        for (var i = 1; i <= channel.MaxWaitingSends; i++)
            peer.Send(channel.Id, Text($"w{i}"), TestActor, i);
        // Answers come in order, so the first answer being the extra one's shows the others still wait: refused without
        // the clock moving.
        peer.Send(channel.Id, Text("beyond"), TestActor, "beyond");
        Assert.Equal(new Peer.SendResult(channel.Id, false, "beyond"), await Result());
    }

    [Fact]
    public async Task Sends_waiting_for_room_are_bounded_per_channel_and_the_next_is_refused_at_once()
    {
        ChannelDescriptor[] channels = [new(0x40, 1) { SendQueueCapacity = 2 }, new(0x41, 1) { SendQueueCapacity = 150 }];
        var (_, b, peer) = await SlowSenderAndReceiver(channels, sendRate: 1);
        await FillQueue(peer, b, 0x40, capacity: 2);
        await FillWaiting(peer, channels[0]); // the floor: 100

        // Another channel has its own queue and its own bound (its capacity again: 150).
        for (var i = 0; i <= 150; i++)
        {
            peer.TrySend(0x41, Text($"q{i}"), TestActor);
            Assert.True((await Result()).Accepted);
        }
        await FillWaiting(peer, channels[1]);

        // The waiting ones were waiting: they give up after the send timeout, each channel's in order.
        Scheduler.Advance(TimeSpan.FromSeconds(10));
        var expired = new List<Peer.SendResult>();
        for (var i = 0; i < 250; i++)
            expired.Add(await Result());
        Assert.All(expired, r => Assert.False(r.Accepted));
        Assert.Equal(Enumerable.Range(1, 100).Cast<object>(), expired.Where(r => r.Channel == 0x40).Select(r => r.CorrelationId!));
        Assert.Equal(Enumerable.Range(1, 150).Cast<object>(), expired.Where(r => r.Channel == 0x41).Select(r => r.CorrelationId!));
        // Then sends may wait again.
        await FillWaiting(peer, channels[0]);
    }

    [Fact]
    public async Task A_broadcast_beyond_the_waiting_bound_is_dropped_at_once_and_never_sent()
    {
        ChannelDescriptor[] channels = [new(0x40, 1) { SendQueueCapacity = 1 }];
        // A long send timeout: the waiting sends must still be waiting when the queue drains below.
        var (a, b, peer) = await SlowSenderAndReceiver(channels, sendRate: 100, sendTimeout: TimeSpan.FromHours(1));
        await FillQueue(peer, b, 0x40, capacity: 1);
        for (var i = 1; i <= channels[0].MaxWaitingSends; i++)
            peer.Send(0x40, Text($"w{i}"), TestActor, i);

        a.Switch.Tell(new Switch.Broadcast(0x40, Text("broadcast")));
        // Once the switch answers, it has handed the broadcast to the peer's mailbox, ahead of what we send next.
        a.Switch.Tell(Switch.GetPeers.Instance);
        await ExpectMsgAsync<Switch.Peers>(Dilated(Timeout));
        peer.Send(0x40, Text("beyond"), TestActor, "beyond");
        Assert.Equal(new Peer.SendResult(0x40, false, "beyond"), await Result());

        // Let the queue drain: the queued messages, then the waiting ones, are delivered; the broadcast never is.
        var expected = new List<string> { "q0", "q1" };
        expected.AddRange(Enumerable.Range(1, channels[0].MaxWaitingSends).Select(i => $"w{i}"));
        foreach (var message in expected)
            Assert.Equal(message, await NextDelivered(b));
        for (var i = 1; i <= channels[0].MaxWaitingSends; i++)
            Assert.Equal(new Peer.SendResult(0x40, true, i), await Result());
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
