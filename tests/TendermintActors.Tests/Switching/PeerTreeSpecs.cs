using System.Net;
using System.Reflection;
using Akka;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Peers;
using TendermintActors.Peers.Internal;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// Each connection is an actor tree: a <c>handshake-N</c> actor while it is upgraded and admitted, then the peer
/// actor <c>peer-&lt;id&gt;</c>, which owns the connection's lifetime; the connection's streams are not its children.
/// Over the in-memory transport and loopback TCP (our socket stages and Akka.IO).
/// </summary>
public sealed class PeerTreeSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private static readonly ChannelDescriptor[] Channels = [new(0x40, 1)];
    private InMemoryNetwork? _network;
    private int _nodes;

    private IP2PTransport Transport(string kind) => kind switch
    {
        "memory" => new InMemoryTransport(_network ??= InMemoryNetwork.Create(Sys)),
        "tcp" => new TcpTransport(),
        "akka-io" => new AkkaIoTransport(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private sealed record Node(NodeKey Key, IActorRef Switch, TestProbe Reactor, NetAddress Address);

    private async Task<Node> StartNode(IP2PTransport transport, Func<Switch.Settings, Switch.Settings>? configure = null, NodeKey? key = null)
    {
        var name = $"n{++_nodes}";
        key ??= NodeKey.Generate();
        var reactor = CreateTestProbe();
        var settings = new Switch.Settings { ListenHost = "127.0.0.1", ListenPort = 0, Moniker = name, DialStartJitter = TimeSpan.Zero };
        settings = configure?.Invoke(settings) ?? settings;
        var registration = new ReactorRegistration("recorder", Sys.ActorOf(RecordingReactor.Props(reactor.Ref), $"{name}-reactor"), Channels);
        var sw = Sys.ActorOf(Switch.Props(key, settings, [registration], transport), $"{name}-switch");
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var endpoint = (IPEndPoint)(await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout))).ListenAddress!;
        return new Node(key, sw, reactor, new NetAddress(key.Id, endpoint.Address, endpoint.Port));
    }

    private static NodeInfoModel RemoteInfo(NodeKey key) =>
        NodeInfoModel.Create(key.Id, "tcp://127.0.0.1:1", "test-net", "remote", [0x40]);

    private async Task<IActorRef?> Identify(ActorPath path) =>
        (await Sys.ActorSelection(path).Ask<ActorIdentity>(new Identify(null), Dilated(Timeout))).Subject;

    [Fact]
    public async Task Connection_is_a_handshake_actor_until_admitted_then_a_peer_actor_named_after_the_remote_ID()
    {
        // b's filter holds the admission, so b's side of the connection waits in its handshake actor.
        var admit = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var b = await StartNode(Transport("memory"), s => s with { PeerFilters = [(_, _) => admit.Task] });
        var a = await StartNode(Transport("memory"));
        a.Switch.Tell(new Switch.DialPeers([b.Address]));
        var atA = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        Assert.Equal(a.Switch.Path / ("peer-" + b.Key.Id.Hex), atA.Actor.Path);

        var handshake = await Identify(b.Switch.Path / "handshake-*");
        Assert.NotNull(handshake);
        Assert.Null(await Identify(b.Switch.Path / "peer-*"));

        admit.SetResult(null);
        var atB = (await b.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        Assert.Equal(b.Switch.Path / ("peer-" + a.Key.Id.Hex), atB.Actor.Path);
        Watch(handshake!);
        await ExpectTerminatedAsync(handshake!, Dilated(Timeout));
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("tcp")]
    public async Task An_idle_peer_holds_no_handle_to_its_stopped_handshake_actor_nor_what_it_has_not_used(string kind)
    {
        var a = await StartNode(Transport(kind));
        var b = await StartNode(Transport(kind));
        a.Switch.Tell(new Switch.DialPeers([b.Address]));
        var peer = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer.Actor;

        // The props the peer's cell keeps for its life name no other actor (the candidate handle named the
        // handshake actor, whose cell, stopped, was kept with it).
        var cell = (ActorCell)((ActorRefWithCell)peer).Underlying;
        var kept = Assert.Single(cell.Props.Arguments.OfType<PeerHandle>());
        Assert.Equal(ActorRefs.Nobody, kept.Actor);
        // Queues, timers and the logger are made on first use; the lower part over a socket runs on the switch's
        // graph fused once.
        var actor = (PeerActor)typeof(ActorCell).GetProperty("Actor", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(cell)!;
        Assert.True(actor.HoldsOnlyWhatIdleNeeds);
        var context = Assert.Single(cell.Props.Arguments.OfType<PeerContext>());
        Assert.Equal(kind == "tcp", context.HasLower);
    }

    [Fact]
    public async Task Over_TCP_a_dialled_address_that_answers_with_another_key_is_refused_as_an_ID_mismatch()
    {
        var a = await StartNode(Transport("tcp"));
        var b = await StartNode(Transport("tcp"));
        var events = CreateTestProbe();
        a.Switch.Tell(new Switch.Subscribe(events.Ref));
        // b's address under another ID: the lower part fused once must still check the ID of this dial.
        a.Switch.Tell(new Switch.DialPeers([new NetAddress(NodeKey.Generate().Id, b.Address.Ip!, b.Address.Port)]));
        var rejected = (Switch.ConnectionRejected)await events.FishForMessageAsync(m => m is Switch.ConnectionRejected, Dilated(Timeout));
        Assert.NotNull(rejected.Dialled);
        Assert.Equal("handshake/dialled-id-mismatch", rejected.Reason.Code);

        // The same address under its own ID connects.
        a.Switch.Tell(new Switch.DialPeers([b.Address]));
        Assert.Equal(b.Key.Id, (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer.Id);
    }

    /// <summary>The actors the switch's peer materializer runs its streams in.</summary>
    private static HashSet<IActorRef> StreamActors(PeerContext context)
    {
        var supervisor = ((ActorMaterializer)context.Materializer).Supervisor;
        return ((ActorCell)((ActorRefWithCell)supervisor).Underlying).GetChildren().Cast<IActorRef>().ToHashSet();
    }

    private static PeerContext ContextOf(IActorRef peer) =>
        Assert.Single(((ActorCell)((ActorRefWithCell)peer).Underlying).Props.Arguments.OfType<PeerContext>());

    [Theory]
    [InlineData("memory")]
    [InlineData("tcp")]
    public async Task A_peers_connection_runs_outside_the_peer_actor_and_stops_with_it(string kind)
    {
        var a = await StartNode(Transport(kind), s => s with { AllowDuplicateIp = true });
        var b = await StartNode(Transport(kind));
        // A connection from b first, to learn a's stream actors before a dials (a's peer context is the same for all).
        b.Switch.Tell(new Switch.DialPeers([a.Address]));
        var first = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer.Actor;
        await b.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout));
        var before = StreamActors(ContextOf(first));
        var c = await StartNode(Transport(kind));
        a.Switch.Tell(new Switch.DialPeers([c.Address]));
        var peer = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer.Actor;
        var remotePeer = (await c.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer.Actor;

        // No stream actor is a peer's child. At each end of the connection (the nodes of this spec share one stream
        // supervisor) the lower part runs in one stream actor and the MConnection in another.
        Assert.Null(await Identify(peer.Path / "*"));
        Assert.Null(await Identify(remotePeer.Path / "*"));
        var added = StreamActors(ContextOf(peer));
        added.ExceptWith(before);
        Assert.Equal(4, added.Count);
        // Named short (each name is kept twice, in the actor's path and its log source): "peer-N-0-mconn", and over
        // a socket "peer-N-0-tcp" for the lower part fused once.
        var names = added.Select(actor => actor.Path.Name).Order().ToList();
        Output.WriteLine(string.Join(", ", names));
        Assert.All(names, name => Assert.Matches(@"^peer-\d+-\d+-", name));
        Assert.Equal(2, names.Count(name => name.EndsWith("-mconn")));
        if (kind == "tcp")
            Assert.Equal(2, names.Count(name => name.EndsWith("-tcp")));

        // Not the peer's children, a's still stop with the peer (and c's as the connection ends).
        foreach (var streamActor in added)
            Watch(streamActor);
        peer.Tell(PoisonPill.Instance);
        var stopped = new HashSet<IActorRef>();
        for (var i = 0; i < added.Count; i++)
            stopped.Add((await ExpectMsgAsync<Terminated>(Dilated(Timeout))).ActorRef);
        Assert.Equal(added, stopped);
    }

    [Fact]
    public async Task A_crossing_connection_takes_over_the_peer_actor_name_once_the_replaced_peer_actor_has_gone()
    {
        var keys = new[] { NodeKey.Generate(), NodeKey.Generate() }.OrderBy(k => k.Id.Hex, StringComparer.Ordinal).ToArray();
        // Both nodes keep the connection dialled by the lower ID (b's). a admits its own dial at once and holds b's
        // until that one is admitted. b holds a's dial in its filter and admits its own. b dials only once a's dial
        // is held there: before that, b's crossing rule (AdmissionPolicy.AdmitPeer, checked before the filters) would
        // refuse a's dial as soon as b dials, and a's first peer would end because b closed it, not because a
        // replaced it.
        var inboundAtA = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseAtA = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var inboundAtB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var memory = Transport("memory");
        var a = await StartNode(memory, s => s with
        {
            PeerFilters = [(peer, _) =>
            {
                if (peer.IsOutbound) return Task.FromResult<string?>(null);
                inboundAtA.TrySetResult();
                return releaseAtA.Task;
            }],
        }, keys[1]);
        var b = await StartNode(memory, s => s with
        {
            PeerFilters = [(peer, _) =>
            {
                if (peer.IsOutbound) return Task.FromResult<string?>(null);
                inboundAtB.TrySetResult();
                return new TaskCompletionSource<string?>().Task;
            }],
            // Held for the whole spec, however slow the machine: a filter that does not answer refuses at its timeout.
            FilterTimeout = TimeSpan.FromMinutes(10),
        }, keys[0]);

        a.Switch.Tell(new Switch.DialPeers([b.Address]));
        var first = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        await inboundAtB.Task.WaitAsync(Dilated(Timeout));
        b.Switch.Tell(new Switch.DialPeers([a.Address]));
        await inboundAtA.Task.WaitAsync(Dilated(Timeout));
        releaseAtA.SetResult(null);

        // The old peer ends first; the new one gets the same name, which only its termination frees.
        var removed = await a.Reactor.ExpectMsgAsync<Reactor.PeerRemoved>(Dilated(Timeout));
        Assert.Equal(first, removed.Peer);
        Assert.Equal("replaced", removed.Reason.Code);
        var second = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        Assert.Equal(first.Actor.Path, second.Actor.Path);
        Assert.NotEqual(first.Actor, second.Actor);
        Assert.False(second.IsOutbound);
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("tcp")]
    [InlineData("akka-io")]
    public async Task Stopping_the_peer_actor_closes_its_connection_as_the_remote_sees(string kind)
    {
        var transport = Transport(kind);
        var remoteKey = NodeKey.Generate();
        var server = await UpgradeServer.Start(Sys, Sys.Materializer(), remoteKey, RemoteInfo(remoteKey), new SecretConnectionSettings(),
            TestActor, transport);
        var node = await StartNode(transport);
        node.Switch.Tell(new Switch.DialPeers([new NetAddress(remoteKey.Id, server.Endpoint.Address, server.Endpoint.Port)]));
        var peer = (await node.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        await ExpectMsgAsync<UpgradeServer.Upgraded>(Dilated(Timeout));

        // Stopped as an actor, not asked to stop: the connection still ends, and the remote sees it end.
        peer.Actor.Tell(PoisonPill.Instance);

        await ExpectMsgAsync<UpgradeServer.ConnectionEnded>(Dilated(Timeout));
        var removed = await node.Reactor.FishForMessageAsync<Reactor.PeerRemoved>(_ => true, Dilated(Timeout));
        Assert.Equal(peer, removed.Peer);
    }

    [Fact]
    public async Task Connection_failing_below_the_MConnection_stops_the_peer_with_that_failure()
    {
        var transport = Transport("memory");
        var remoteKey = NodeKey.Generate();
        // A remote whose transport side the test fails once it is upgraded; the in-memory transport resets the
        // connection, as an aborted socket would, and our side reads the reset in its SecretConnection stage, below
        // the handover.
        var killSwitches = CreateTestProbe();
        var binding = await transport.Bind("127.0.0.1", 0)
            .To(Sink.ForEach<TransportConnection>(connection =>
            {
                var app = Flow.FromSinkAndSource(Sink.Ignore<ByteString>(), Source.Maybe<ByteString>(), Keep.None);
                var (kill, upgraded) = connection.Flow
                    .ViaMaterialized(KillSwitches.Single<ByteString>(), Keep.Right)
                    .JoinMaterialized(SecretConnection.Upgrade(remoteKey, RemoteInfo(remoteKey)).JoinUnderMat(app, Keep.Left), Keep.Both)
                    .Run(Sys.Materializer());
                upgraded.ContinueWith(_ => killSwitches.Ref.Tell(kill));
            }))
            .Run(Sys.Materializer());
        var endpoint = (IPEndPoint)binding.LocalAddress;
        var node = await StartNode(transport);
        node.Switch.Tell(new Switch.DialPeers([new NetAddress(remoteKey.Id, endpoint.Address, endpoint.Port)]));
        var peer = (await node.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        var kill = await killSwitches.ExpectMsgAsync<UniqueKillSwitch>(Dilated(Timeout));
        Watch(peer.Actor);

        var failure = new IOException("connection reset by the test");
        kill.Abort(failure);

        var removed = await node.Reactor.FishForMessageAsync<Reactor.PeerRemoved>(_ => true, Dilated(Timeout));
        // The reset, as a socket would report it, not the remote's own failure.
        Assert.Equal("transport/closed", removed.Reason.Code);
        var reset = Assert.IsType<IOException>(removed.Reason.Error);
        Assert.Equal("connection reset by peer", reset.Message);
        Assert.NotSame(failure, reset);
        await ExpectTerminatedAsync(peer.Actor, Dilated(Timeout));
    }

    [Fact]
    public async Task The_switch_answers_a_shutdown_only_once_every_sockets_FIN_is_out()
    {
        // A peer ends once its MConnection has handed its last bytes to the lower part; the socket may still be
        // writing them, and stopping the system then would reset the connection. So the answer waits for the sockets.
        var a = await StartNode(Transport("tcp"));
        var b = await StartNode(Transport("tcp"));
        a.Switch.Tell(new Switch.DialPeers([b.Address]));
        var peer = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
        var sockets = ContextOf(peer.Actor).UnfinishedSockets;
        Assert.Equal(1, sockets.Count); // the peer's
        // One more socket still writing: a real one needs a remote that stops reading at the right moment
        // (TcpTransportSpecs shows the stage counts it until its FIN is out).
        sockets.Started();

        // The peer ends gracefully first (its socket closed in order, out of the count), so that the shutdown's
        // answer below depends on the socket still writing alone: it comes at the timeout, saying so.
        a.Switch.Tell(new Switch.StopPeer(peer.Id, PeerStopReason.Stopped("test"), Graceful: true));
        await a.Reactor.FishForMessageAsync<Reactor.PeerRemoved>(_ => true, Dilated(Timeout));
        AwaitAssert(() => Assert.Equal(1, sockets.Count), Dilated(Timeout));
        var timedOut = await a.Switch.Ask<Switch.ShutdownComplete>(new Switch.Shutdown(TimeSpan.FromMilliseconds(300)), Dilated(Timeout));
        Assert.Equal(new Switch.ShutdownComplete(PeersLeft: 0, ConnectionsClosing: 1), timedOut);

        // Asked again, the answer waits for the socket's FIN: a question asked after it is answered first (the
        // switch takes one sender's messages in order), and the answer comes once the FIN is out.
        var asker = CreateTestProbe();
        a.Switch.Tell(new Switch.Shutdown(Timeout), asker.Ref);
        a.Switch.Tell(Switch.GetPeers.Instance, asker.Ref);
        Assert.Empty((await asker.ExpectMsgAsync<Switch.Peers>(Dilated(Timeout))).Connected);
        sockets.Finished();
        Assert.Equal(new Switch.ShutdownComplete(0, 0), await asker.ExpectMsgAsync<Switch.ShutdownComplete>(Dilated(Timeout)));
    }
}
