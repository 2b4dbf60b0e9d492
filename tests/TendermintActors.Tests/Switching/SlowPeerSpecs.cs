using System.Net;
using Akka.Actor;
using Akka.Streams;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TendermintActors.Peers;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.SecretConnection;
using TendermintActors.Streams;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// Peers that are slow on purpose, through a whole switch on the in-memory transport (whose connections are bounded
/// channels: a side that stops reading closes the window, as over TCP) and Akka's TestScheduler: a handshake trickled
/// a byte at a time, a remote that stops reading while we send. Each must end, or be refused, within a bound. The
/// same cases at the MConnection stage, and a message never finished, are in Streams/SlowPeerStageSpecs.
/// </summary>
public sealed class SlowPeerSpecs(ITestOutputHelper output)
    : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"", output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private const byte Channel = 0x40;
    private InMemoryNetwork? _networkInstance;
    private InMemoryNetwork Network => _networkInstance ??= InMemoryNetwork.Create(Sys);
    private int _nodes;

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private sealed record Node(NodeKey Key, IActorRef Switch, TestProbe Reactor, TestProbe Events, NetAddress Address);

    private async Task<Node> StartNode(ChannelDescriptor[] channels, Func<Switch.Settings, Switch.Settings>? configure = null,
        bool silentReactor = false)
    {
        var name = $"n{++_nodes}";
        var key = NodeKey.Generate();
        var reactor = CreateTestProbe();
        var settings = new Switch.Settings { ListenHost = "127.0.0.1", ListenPort = 0, Moniker = name, DialStartJitter = TimeSpan.Zero };
        settings = configure?.Invoke(settings) ?? settings;
        var props = silentReactor ? SilentReactor.Props(reactor.Ref) : RecordingReactor.Props(reactor.Ref);
        var registration = new ReactorRegistration("reactor", Sys.ActorOf(props, $"{name}-reactor"), channels);
        var sw = Sys.ActorOf(Switch.Props(key, settings, [registration], new InMemoryTransport(Network)), $"{name}-switch");
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var endpoint = (IPEndPoint)(await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout))).ListenAddress!;
        return new Node(key, sw, reactor, events, new NetAddress(key.Id, endpoint.Address, endpoint.Port));
    }

    // ---- (1) a handshake trickled a byte at a time ----

    [Fact]
    public async Task A_handshake_trickled_a_byte_a_second_ends_at_the_handshake_timeout_and_frees_its_slot()
    {
        var handshakeTimeout = TimeSpan.FromSeconds(60);
        var node = await StartNode([new(Channel, 1)], s => s with { MaxConcurrentHandshakes = 1, HandshakeTimeout = handshakeTimeout });
        using var slowloris = await ScriptedPeer.Connect(new InMemoryTransport(Network), (IPEndPoint)Endpoint(node),
            Sys.Materializer(), Dilated(Timeout));
        // Its handshake has started (and its deadline with it) once it has sent its ephemeral key.
        await slowloris.ReadEphemeralKey();

        // The one slot is taken: another connection is closed at once.
        Assert.True(await RawConnectionClosedAtOnce(node), "a second handshake should be refused while the slowloris holds the slot");

        // Every second a byte: the whole ephemeral-key message (35 bytes) arrives, 35 s into the 60 s deadline...
        var ephemeral = LengthDelimited.Encode(new BytesValue { Value = ByteString.CopyFrom(EphemeralKeyPair.Generate().PublicKey) });
        var elapsed = TimeSpan.Zero;
        foreach (var b in ephemeral)
        {
            slowloris.Send([b]);
            Scheduler.Advance(TimeSpan.FromSeconds(1));
            elapsed += TimeSpan.FromSeconds(1);
        }
        // ...and the node answered it with its AuthSig frame: the handshake is alive and making progress.
        await slowloris.ReadExactly(Frame.SealedSize);

        // Progress does not move the deadline: a byte a second of its AuthSig, and the handshake ends at 60 s.
        while (elapsed < handshakeTimeout)
        {
            slowloris.Send([0x00]);
            Scheduler.Advance(TimeSpan.FromSeconds(1));
            elapsed += TimeSpan.FromSeconds(1);
        }
        var rejected = (Switch.ConnectionRejected)await node.Events.FishForMessageAsync(m => m is Switch.ConnectionRejected, Dilated(Timeout));
        Assert.Equal("handshake/timeout", rejected.Reason.Code);
        Assert.Equal(HandshakeFailure.Timeout, Assert.IsType<HandshakeFailedException>(rejected.Reason.Error).Reason);
        Assert.True(await slowloris.WaitForClose(), "the node should close the slowloris' connection");

        // The slot is free again: an honest node gets in.
        var honest = await StartNode([new(Channel, 1)]);
        honest.Switch.Tell(new Switch.DialPeers([node.Address]));
        Assert.Equal(honest.Key.Id, (await node.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer.Id);
    }

    private static EndPoint Endpoint(Node node) => new IPEndPoint(node.Address.Ip!, node.Address.Port);

    /// <summary>A raw connection that gets no ephemeral key from the node and is closed by it (before any clock moves).</summary>
    private async Task<bool> RawConnectionClosedAtOnce(Node node)
    {
        using var probe = await ScriptedPeer.Connect(new InMemoryTransport(Network), (IPEndPoint)Endpoint(node), Sys.Materializer(), Dilated(Timeout));
        try
        {
            await probe.ReadExactly(1);
            return false; // greeted: it got a handshake
        }
        catch (EndOfStreamException)
        {
            return true;
        }
        catch (IOException)
        {
            return true;
        }
    }

    // ---- (2) a remote that stops reading while we send ----

    /// <summary>Bigger than everything the connection can hold in flight (bounded channels of 16 writes of 64 KiB).</summary>
    private static readonly byte[] Big = new byte[4 * 1024 * 1024];

    /// <summary>
    /// a sends to b, whose reactor never acknowledges: b stops reading once it has delivered one message, the
    /// in-memory connection's buffers fill, and a's writes stop in the middle of its second message (its TCP window,
    /// so to speak, is closed). From then on a's queue for the channel never gets shorter.
    /// </summary>
    private async Task<(Node A, Node B, PeerHandle Peer)> SenderAndNonReader(ChannelDescriptor channel)
    {
        var a = await StartNode([channel], s => s with { Connection = s.Connection with { SendRate = 0, RecvRate = 0 } });
        var b = await StartNode([channel with { RecvBufferCapacity = 1 }],
            s => s with { Connection = s.Connection with { SendRate = 0, RecvRate = 0 } }, silentReactor: true);
        a.Switch.Tell(new Switch.DialPeers([b.Address]));
        var peer = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        await b.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout));

        peer.TrySend(Channel, Big, TestActor, "first");
        Assert.True((await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout))).Accepted);
        await b.Reactor.FishForMessageAsync(m => m is Reactor.Received, Dilated(Timeout));
        // The peer's status comes back through its connection after the report that the first message was written:
        // once it is here, the peer has counted that message out of its queue.
        peer.Actor.Tell(Peer.GetStatus.Instance, TestActor);
        await ExpectMsgAsync<Peer.Status>(Dilated(Timeout));
        return (a, b, peer);
    }

    /// <summary>TrySends <see cref="Big"/> messages until one is refused; returns how many were taken. Fails past <paramref name="most"/>.</summary>
    private async Task<int> SendUntilRefused(PeerHandle peer, int most)
    {
        for (var taken = 0; taken <= most; taken++)
        {
            peer.TrySend(Channel, Big, TestActor, taken);
            if (!(await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout))).Accepted)
                return taken;
        }
        throw new Xunit.Sdk.XunitException($"more than {most} messages taken for a remote that reads nothing");
    }

    [Fact]
    public async Task To_a_remote_that_stops_reading_sends_are_refused_once_the_queue_is_full_and_waiting_sends_give_up_at_the_send_timeout()
    {
        var channel = new ChannelDescriptor(Channel, 1) { SendQueueCapacity = 4 };
        var (_, _, peer) = await SenderAndNonReader(channel);
        // The queue's bound and nothing more: the message stuck half-written and the capacity behind it.
        Assert.Equal(channel.SendQueueCapacity + 1, await SendUntilRefused(peer, most: 100));

        // Sends that may wait do, up to their bound; the next is refused at once; the waiting ones give up at the
        // send timeout (10 s) with false, as nothing was written meanwhile.
        for (var i = 1; i <= channel.MaxWaitingSends; i++)
            peer.Send(Channel, new byte[16], TestActor, $"w{i}");
        peer.Send(Channel, new byte[16], TestActor, "beyond");
        Assert.Equal(new Peer.SendResult(Channel, false, "beyond"), await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout)));
        Scheduler.Advance(TimeSpan.FromSeconds(10));
        for (var i = 1; i <= channel.MaxWaitingSends; i++)
            Assert.Equal(new Peer.SendResult(Channel, false, $"w{i}"), await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout)));
        peer.TrySend(Channel, new byte[16], TestActor, "again");
        Assert.Equal(new Peer.SendResult(Channel, false, "again"), await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout)));
    }

    [Fact]
    public async Task A_remote_that_stops_reading_is_removed_with_a_timeout_once_a_ping_could_not_be_written_within_the_pong_timeout()
    {
        var (a, _, peer) = await SenderAndNonReader(new ChannelDescriptor(Channel, 1));
        await SendUntilRefused(peer, most: 100);
        var settings = new MConnectionSettings();
        Scheduler.Advance(settings.PingInterval);
        // The stream hears its ping timer before this status request: the pong deadline is set from the ping's due time.
        peer.Actor.Tell(Peer.GetStatus.Instance, TestActor);
        await ExpectMsgAsync<Peer.Status>(Dilated(Timeout));
        Scheduler.Advance(settings.PongTimeout);
        var removed = await a.Reactor.FishForMessageAsync(m => m is Reactor.PeerRemoved, Dilated(Timeout));
        Assert.StartsWith("timeout/", ((Reactor.PeerRemoved)removed).Reason.Code);
    }
}
