using Akka.Actor;
using Akka.TestKit;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.TestKit;

/// <summary>
/// A node under test started by <see cref="P2PTestKit.StartNode"/>: its key, its switch, the address to dial it at,
/// the channels its reactors own, and a probe subscribed to its switch events (Listening, PeerConnected, …).
/// </summary>
public sealed record TestNode(NodeKey Key, IActorRef Switch, NetAddress Address, IReadOnlyList<ChannelDescriptor> Channels,
    TestProbe Events, bool Tcp)
{
    /// <summary>The node's root actor (<c>/user/nodeN</c>), whose child the switch is; it forwards switch commands.</summary>
    public IActorRef Node { get; init; } = ActorRefs.Nobody;

    public NodeId Id => Key.Id;
}
