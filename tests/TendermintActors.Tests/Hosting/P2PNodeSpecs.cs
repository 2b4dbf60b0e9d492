using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using TendermintActors.Hosting;
using TendermintActors.Peers;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.AddrBook;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Hosting;

/// <summary>The node root: its tree, its supervision (stop and report, never restart) and its clean stop.</summary>
public sealed class P2PNodeSpecs(ITestOutputHelper output) : TestKit(Config, output: output), IDisposable
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        tendermint.p2p {
          laddr = "tcp://127.0.0.1:0"
          dial-start-jitter = 0s
        }
        """);

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly ChannelDescriptor[] Channels = [new(0x42, 5) { SendQueueCapacity = 10 }];

    private readonly TempDir _dir = new();

    private Task<P2PNodeHandle> StartNode(string name, IActorRef reactor, bool pex = true) =>
        Sys.TendermintP2P().StartNode(NodeKey.Generate(), [new ReactorRegistration("chat", reactor, Channels)], name,
            Switch.Settings.From(Sys.TendermintP2P().Settings) with { Moniker = name, AllowDuplicateIp = true },
            new TcpTransport(),
            pex: pex
                ? new PexOptions(new PexReactor.Settings(), new TendermintActors.Pex.AddrBook.Settings(_dir.File(name + ".json"))
                {
                    Strict = false, SaveInterval = TimeSpan.Zero,
                })
                : null);

    private async Task<Switch.Listening> Listening(IActorRef node)
    {
        var events = CreateTestProbe();
        node.Tell(new Switch.Subscribe(events.Ref)); // forwarded to the switch
        return await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout));
    }

    [Fact]
    public async Task Node_supervises_its_switch_address_book_and_pex_under_its_own_name()
    {
        var node = await StartNode("p2p", Sys.ActorOf(RecordingReactor.Props(CreateTestProbe().Ref)));

        Assert.Equal("/user/p2p", node.Node.Path.ToStringWithoutAddress());
        Assert.Equal("/user/p2p/switch", node.Switch.Path.ToStringWithoutAddress());
        Assert.Equal("/user/p2p/addrbook", node.AddrBook!.Path.ToStringWithoutAddress());
        Assert.Equal("/user/p2p/pex", node.Pex!.Path.ToStringWithoutAddress());
        // The node answers switch commands for its switch, so users talk to one actor.
        var info = await node.Node.Ask<Switch.NodeInfoReply>(Switch.GetNodeInfo.Instance, Dilated(Timeout));
        Assert.Equal(node.Id.Hex, info.NodeInfo.DefaultNodeId);
    }

    [Fact]
    public async Task Node_without_pex_has_only_a_switch()
    {
        var node = await StartNode("plain", Sys.ActorOf(RecordingReactor.Props(CreateTestProbe().Ref)), pex: false);

        Assert.Equal("/user/plain/switch", node.Switch.Path.ToStringWithoutAddress());
        Assert.Null(node.AddrBook);
        Assert.Null(node.Pex);
    }

    [Fact]
    public async Task A_node_whose_switch_cannot_listen_fails_to_start_naming_the_address_and_is_gone()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var settings = Switch.Settings.From(Sys.TendermintP2P().Settings) with { ListenHost = "127.0.0.1", ListenPort = port };

        var e = await Assert.ThrowsAsync<IOException>(() =>
            Sys.TendermintP2P().StartNode(NodeKey.Generate(), [], "taken", settings, new TcpTransport()));

        Assert.StartsWith($"cannot listen on 127.0.0.1:{port}: ", e.Message); // with the socket's error, or that the switch stopped
        await AwaitAssertAsync(() => Assert.ThrowsAsync<ActorNotFoundException>(() =>
            Sys.ActorSelection("/user/taken").ResolveOne(Dilated(TimeSpan.FromSeconds(1)))), Dilated(Timeout));
    }

    [Fact]
    public async Task A_failing_address_book_is_reported_and_stopped_not_restarted_and_the_node_stops()
    {
        var node = await StartNode("failing-book", Sys.ActorOf(RecordingReactor.Props(CreateTestProbe().Ref)));
        await Listening(node.Node);
        var subscriber = CreateTestProbe();
        node.Node.Tell(new P2PNode.Subscribe(subscriber.Ref));
        var watcher = CreateTestProbe();
        foreach (var actor in new[] { node.Node, node.Switch, node.AddrBook!, node.Pex! })
            watcher.Watch(actor);

        node.AddrBook!.Tell(Kill.Instance);

        var failed = await subscriber.ExpectMsgAsync<P2PNode.ChildFailed>(Dilated(Timeout));
        Assert.Equal("addrbook", failed.Child);
        Assert.IsType<ActorKilledException>(failed.Reason);
        // Stopped, not restarted: the report comes when the child terminates, which a restarted child never does.
        // Then the whole node goes.
        var gone = new HashSet<IActorRef>();
        for (var i = 0; i < 4; i++)
            gone.Add((await watcher.ExpectMsgAsync<Terminated>(Dilated(Timeout))).ActorRef);
        Assert.Equal(new HashSet<IActorRef> { node.Node, node.Switch, node.AddrBook!, node.Pex! }, gone);
    }

    [Fact]
    public async Task A_failing_switch_is_reported_and_the_node_stops_with_it()
    {
        var node = await StartNode("failing-switch", Sys.ActorOf(RecordingReactor.Props(CreateTestProbe().Ref)), pex: false);
        await Listening(node.Node);
        var subscriber = CreateTestProbe();
        node.Node.Tell(new P2PNode.Subscribe(subscriber.Ref));
        var watcher = CreateTestProbe();
        watcher.Watch(node.Node);

        node.Switch.Tell(Kill.Instance);

        var failed = await subscriber.ExpectMsgAsync<P2PNode.ChildFailed>(Dilated(Timeout));
        Assert.Equal("switch", failed.Child);
        await watcher.ExpectTerminatedAsync(node.Node, Dilated(Timeout));
    }

    [Fact]
    public async Task Stopping_the_node_closes_its_peers_gracefully_then_stops_every_child()
    {
        var atA = CreateTestProbe();
        var a = await StartNode("stopping", Sys.ActorOf(RecordingReactor.Props(atA.Ref)));
        var atB = CreateTestProbe();
        var b = await StartNode("staying", Sys.ActorOf(RecordingReactor.Props(atB.Ref)), pex: false);
        var listening = await Listening(a.Node);
        await Listening(b.Node);
        var endpoint = (System.Net.IPEndPoint)listening.ListenAddress!;
        b.Node.Tell(new Switch.DialPeers([new NetAddress(a.Id, endpoint.Address, endpoint.Port)]));
        var peerOfA = await ExpectPeerAdded(atA);
        Assert.StartsWith("/user/stopping/switch/", peerOfA.Actor.Path.ToStringWithoutAddress()); // peers live under the switch
        await ExpectPeerAdded(atB);
        var watcher = CreateTestProbe();
        foreach (var actor in new[] { a.Node, a.Switch, a.AddrBook!, a.Pex!, peerOfA.Actor })
            watcher.Watch(actor);

        // A message queued just before the stop still arrives: the peer is closed after a flush.
        peerOfA.Send(0x42, "last words"u8.ToArray());
        a.Node.Tell(new P2PNode.Stop(Dilated(Timeout)));

        Assert.Equal("last words", System.Text.Encoding.UTF8.GetString((await ExpectReceived(atB)).Message.Span));
        var removed = await atB.FishForMessageAsync<Reactor.PeerRemoved>(_ => true, Dilated(Timeout));
        Assert.Equal("closed", removed.Reason.Code);
        Assert.False(removed.Reason.IsError);
        var gone = new HashSet<IActorRef>();
        for (var i = 0; i < 5; i++)
            gone.Add((await watcher.ExpectMsgAsync<Terminated>(Dilated(Timeout))).ActorRef);
        Assert.Contains(a.Node, gone);
        Assert.Contains(a.AddrBook!, gone);
    }

    // PEX on node a may talk on channel 0x00 first; the recording reactor sees only channel 0x42 and peer events.
    private async Task<PeerHandle> ExpectPeerAdded(Akka.TestKit.TestProbe probe) =>
        (await probe.FishForMessageAsync<Reactor.PeerAdded>(_ => true, Dilated(Timeout))).Peer;

    private async Task<Reactor.Received> ExpectReceived(Akka.TestKit.TestProbe probe) =>
        await probe.FishForMessageAsync<Reactor.Received>(_ => true, Dilated(Timeout));

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _dir.Dispose();
    }
}
