using System.Net;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Switch;

/// <summary>A connected peer as the switch's admission rules see it.</summary>
/// <param name="Id">The authenticated node ID.</param>
/// <param name="IsOutbound">We dialled it.</param>
/// <param name="Ip">The remote IP of the connection (the socket's, not the self-reported listen address).</param>
/// <param name="IsPersistent">Listed in <c>persistent-peers</c>.</param>
public sealed record ConnectedPeer(NodeId Id, IPAddress Ip, bool IsOutbound, bool IsPersistent);

/// <summary>
/// The switch's peers at the moment of a decision: those connected (added to the switch) and the IDs it is dialling.
/// The collections may be live views of the switch actor's own state: the policy reads them during the call and keeps
/// nothing.
/// </summary>
public sealed record PeerSetSnapshot(IReadOnlyCollection<ConnectedPeer> Peers, IReadOnlySet<NodeId> Dialling)
{
    public static PeerSetSnapshot Empty { get; } = new([], new HashSet<NodeId>());

    public bool IsConnected(NodeId id)
    {
        foreach (var peer in Peers)
            if (peer.Id == id)
                return true;
        return false;
    }

    public bool HasIp(IPAddress ip)
    {
        var wanted = NetAddress.Normalise(ip);
        foreach (var peer in Peers)
            if (NetAddress.Normalise(peer.Ip).Equals(wanted))
                return true;
        return false;
    }
}

/// <summary>
/// Peers that count towards the limits: unconditional peers are left out (as Go's <c>Switch.NumPeers</c>), and so
/// are dials to them.
/// </summary>
public readonly record struct PeerCounts(int Outbound, int Inbound, int Dialling);

/// <summary>
/// A connection asking to become a peer. For an inbound connection this is known after the handshake (the ID is
/// authenticated); for a dial, before it (the ID is the one in the address).
/// </summary>
/// <param name="Id">The ID dialled, or the one the handshake authenticated.</param>
/// <param name="Ip">The remote IP; null for a dial to a DNS name not resolved yet (the IP rule is then checked after the handshake).</param>
/// <param name="IsOutbound">We dial it (or dialled it).</param>
/// <param name="IsPersistent">Listed in <c>persistent-peers</c>.</param>
public sealed record PeerCandidate(NodeId Id, IPAddress? Ip, bool IsOutbound, bool IsPersistent);
