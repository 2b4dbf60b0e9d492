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
    public NodeId Id => Key.Id;
}
