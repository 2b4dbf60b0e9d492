using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Hosting;
using TendermintActors.Switching;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.TestKit;

/// <summary>
/// Base class for reactor specs. Runs on Akka's <see cref="TestScheduler"/>, so protocol timers (ping, pong
/// timeout, send timeout, redials) fire only when the spec calls <see cref="AdvanceTime"/>; starts nodes on an
/// in-memory network (or loopback TCP) and connects <see cref="ProbePeer"/>s whose traffic the spec controls.
/// </summary>
public abstract class P2PTestKit : Akka.TestKit.Xunit2.TestKit
{
    public static readonly Config SchedulerConfig = ConfigurationFactory.ParseString(
        "akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"");

    /// <summary>How long the kit's own waits (listening, peer added, expected messages) last, before dilation.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    private InMemoryNetwork? _network;
    private int _nodes;

    protected P2PTestKit(ITestOutputHelper? output = null, Config? config = null)
        : base(config is null ? SchedulerConfig : config.WithFallback(SchedulerConfig), output: output)
    {
    }

    /// <summary>The in-memory network shared by every node this spec starts without TCP.</summary>
    public InMemoryNetwork Network => _network ??= InMemoryNetwork.Create(Sys);

    public TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    /// <summary>Moves the test clock, firing every protocol timer due in <paramref name="by"/>.</summary>
    public void AdvanceTime(TimeSpan by) => Scheduler.Advance(by);

    /// <summary>
    /// Starts a node with <paramref name="reactors"/>, listening on the in-memory network (or on 127.0.0.1 over TCP
    /// when <paramref name="tcp"/>), and returns once it listens. <paramref name="configure"/> adjusts the settings.
    /// </summary>
    public async Task<TestNode> StartNode(IReadOnlyList<ReactorRegistration> reactors,
        Func<Switch.Settings, Switch.Settings>? configure = null, bool tcp = false)
    {
        var name = $"node{++_nodes}";
        var key = NodeKey.Generate();
        // Every dialler of a test comes from 127.0.0.1 (in memory and on loopback), so Go's one-peer-per-IP rule
        // would refuse the second probe peer.
        var settings = new Switch.Settings
        {
            Moniker = name, ListenHost = "127.0.0.1", ListenPort = 0, DialStartJitter = TimeSpan.Zero, AllowDuplicateIp = true,
        };
        settings = configure?.Invoke(settings) ?? settings;
        var node = Sys.ActorOf(P2PNode.Props(key, settings, reactors, Transport(tcp)), name);
        var sw = (await node.Ask<P2PNodeHandle>(P2PNode.GetHandle.Instance)).Switch;
        var events = CreateTestProbe($"{name}-events");
        sw.Tell(new Switch.Subscribe(events.Ref));
        var listening = await events.ExpectMsgAsync<Switch.Listening>(Dilated(DefaultTimeout));
        var endpoint = (IPEndPoint)(listening.ListenAddress
            ?? throw new InvalidOperationException($"{name} does not listen (ListenHost is null), so it cannot be dialled"));
        return new TestNode(key, sw, new NetAddress(key.Id, endpoint.Address, endpoint.Port),
            reactors.SelectMany(r => r.Channels).ToList(), events, tcp) { Node = node };
    }

    /// <summary>
    /// Starts a minimal dial-only node advertising <paramref name="channels"/>, dials <paramref name="node"/>, and
    /// returns once both sides have added the other as a peer.
    /// </summary>
    public async Task<ProbePeer> ConnectProbePeer(TestNode node, IReadOnlyList<ChannelDescriptor> channels, bool tcp = false)
    {
        var name = $"probe{++_nodes}";
        var key = NodeKey.Generate();
        var reactorEvents = CreateTestProbe($"{name}-reactor");
        var reactor = Sys.ActorOf(ForwardingReactor.Props(reactorEvents.Ref), $"{name}-reactor");
        var settings = new Switch.Settings
        {
            Moniker = name, ListenHost = null, DialStartJitter = TimeSpan.Zero,
            // Unlimited so that Misbehave's oversized message is not paced by the test clock.
            Connection = new MConnectionSettings { SendRate = 0 },
        };
        // One unacknowledged message fills a channel's buffer, so that StopReading stalls the connection at once.
        var probeChannels = channels.Select(c => c with { RecvBufferCapacity = 1 }).ToList();
        var sw = Sys.ActorOf(Switch.Props(key, settings, [new ReactorRegistration("probe", reactor, probeChannels)], Transport(tcp)),
            $"{name}-switch");
        // A subscription of its own, so that this probe's removal is found without consuming other specs' events.
        var nodeEvents = CreateTestProbe($"{name}-node-events");
        node.Switch.Tell(new Switch.Subscribe(nodeEvents.Ref));
        await nodeEvents.ExpectMsgAsync<Switch.Listening>(Dilated(DefaultTimeout));
        sw.Tell(new Switch.DialPeers([node.Address]));
        var added = await reactorEvents.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(DefaultTimeout));
        var connected = (Switch.PeerConnected)await nodeEvents.FishForMessageAsync(
            m => m is Switch.PeerConnected c && c.Peer.Id == key.Id, Dilated(DefaultTimeout));
        // The node's peer actor tells the node's reactors PeerAdded when it is admitted, which it may not have handled
        // yet: once it answers a status request it has, so whatever the spec sends those reactors next comes after.
        await connected.Peer.Actor.Ask<Peer.Status>(Peer.GetStatus.Instance, Dilated(DefaultTimeout));
        return new ProbePeer(this, key, sw, reactor, added.Peer, node, channels, reactorEvents, nodeEvents, CreateTestProbe($"{name}-sends"));
    }

    private IP2PTransport Transport(bool tcp) => tcp ? new TcpTransport() : new InMemoryTransport(Network);
}
