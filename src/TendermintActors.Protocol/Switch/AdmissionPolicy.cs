using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Switch;

/// <summary>The switch's admission settings (docs/protocol.md §9), with Go's defaults.</summary>
/// <param name="OurId">This node's ID: a connection to it is refused as <see cref="RejectReason.Self"/>.</param>
public sealed record AdmissionSettings(NodeId OurId)
{
    public const int DefaultMaxInboundPeers = 40;
    public const int DefaultMaxOutboundPeers = 10;

    /// <summary><c>max-num-inbound-peers</c>.</summary>
    public int MaxInboundPeers { get; init; } = DefaultMaxInboundPeers;

    /// <summary><c>max-num-outbound-peers</c>.</summary>
    public int MaxOutboundPeers { get; init; } = DefaultMaxOutboundPeers;

    /// <summary><c>allow-duplicate-ip</c>.</summary>
    public bool AllowDuplicateIp { get; init; }

    /// <summary><c>unconditional-peer-ids</c>: exempt from both limits and not counted towards them.</summary>
    public IReadOnlySet<NodeId> UnconditionalPeerIds { get; init; } = new HashSet<NodeId>();
}

/// <summary>
/// Whether a connection may become a peer (docs/protocol.md §6). Pure: the switch passes in its peers and the candidate and
/// acts on the answer. The rules are checked in a fixed order, so the reason given is the first that applies: self,
/// duplicate ID, duplicate IP, then the limit of the candidate's direction.
/// </summary>
/// <remarks>
/// Two moments, because a dial's ID is known before the connection exists and an inbound's only after the handshake:
/// <see cref="AdmitDial"/> before dialling and <see cref="AdmitPeer"/> once the handshake has authenticated the remote
/// (for both directions; Go re-checks dialled peers too, as the peer set can change while the handshake runs).
/// </remarks>
public sealed class AdmissionPolicy
{
    public AdmissionPolicy(AdmissionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfNegative(settings.MaxInboundPeers);
        ArgumentOutOfRangeException.ThrowIfNegative(settings.MaxOutboundPeers);
        Settings = settings;
    }

    public AdmissionSettings Settings { get; }

    public bool IsUnconditional(NodeId id) => Settings.UnconditionalPeerIds.Contains(id);

    /// <summary>The counts that the limits apply to (and that PEX uses to decide how many to dial).</summary>
    public PeerCounts Count(PeerSetSnapshot snapshot)
    {
        int outbound = 0, inbound = 0, dialling = 0;
        foreach (var peer in snapshot.Peers)
        {
            if (IsUnconditional(peer.Id)) continue;
            if (peer.IsOutbound) outbound++;
            else inbound++;
        }
        foreach (var id in snapshot.Dialling)
            if (!IsUnconditional(id))
                dialling++;
        return new PeerCounts(outbound, inbound, dialling);
    }

    /// <summary>
    /// Before dialling <paramref name="candidate"/> (which must be outbound). Dials in progress count towards the
    /// outbound limit, so that the switch never has more dials open than free outbound slots.
    /// </summary>
    public Admission AdmitDial(PeerSetSnapshot snapshot, PeerCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(candidate);
        if (!candidate.IsOutbound)
            throw new ArgumentException("only an outbound candidate is dialled", nameof(candidate));

        if (candidate.Id == Settings.OurId)
            return Admission.Reject(RejectReason.Self, $"{candidate.Id} is our own ID");
        if (snapshot.IsConnected(candidate.Id))
            return Admission.Reject(RejectReason.DuplicateId, $"peer {candidate.Id} is already connected");
        if (snapshot.Dialling.Contains(candidate.Id))
            return Admission.Reject(RejectReason.DuplicateId, $"peer {candidate.Id} is already being dialled");
        if (DuplicateIp(snapshot, candidate) is { } duplicateIp)
            return duplicateIp;

        var counts = Count(snapshot);
        return OutboundLimit(candidate, counts.Outbound + counts.Dialling, " (dials in progress included)");
    }

    /// <summary>
    /// After the handshake: whether the authenticated <paramref name="candidate"/> becomes a peer. For an outbound
    /// candidate its own dial is expected in <see cref="PeerSetSnapshot.Dialling"/>, so that it is not a duplicate
    /// of itself.
    /// </summary>
    /// <remarks>
    /// An inbound connection from a peer we are dialling is the two nodes dialling each other at once. If each kept
    /// the connection it saw complete first, each could keep a different one and close the other's, and both would
    /// end with none. So both keep the connection dialled by the lower ID: the inbound one is accepted if the peer's
    /// ID sorts below ours, and our dial then meets a connected peer; otherwise it is refused and our dial goes on.
    /// (Go checks only connected peers, so against a Go node this narrows the race rather than closing it.)
    /// </remarks>
    public Admission AdmitPeer(PeerSetSnapshot snapshot, PeerCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(candidate);
        if (candidate.Ip is null)
            throw new ArgumentException("a connected candidate has a remote IP", nameof(candidate));

        if (candidate.Id == Settings.OurId)
            return Admission.Reject(RejectReason.Self, $"{candidate.Id} is our own ID");
        if (snapshot.IsConnected(candidate.Id))
            return Admission.Reject(RejectReason.DuplicateId, $"peer {candidate.Id} is already connected");
        if (!candidate.IsOutbound && snapshot.Dialling.Contains(candidate.Id) && OurDialWins(candidate.Id))
            return Admission.Reject(RejectReason.DuplicateId,
                $"peer {candidate.Id} is being dialled, and of two crossing connections the one dialled by the lower ID ({Settings.OurId}, ours) is kept");
        if (DuplicateIp(snapshot, candidate) is { } duplicateIp)
            return duplicateIp;

        var counts = Count(snapshot);
        if (candidate.IsOutbound)
            return OutboundLimit(candidate, counts.Outbound, "");
        // Persistent peers are not exempt here: Go refuses them too, and we dial them anyway.
        if (!IsUnconditional(candidate.Id) && counts.Inbound >= Settings.MaxInboundPeers)
            return Admission.Reject(RejectReason.TooManyInbound,
                $"already {counts.Inbound} inbound peers (max-num-inbound-peers = {Settings.MaxInboundPeers})");
        return Admission.Accept;
    }

    private bool OurDialWins(NodeId remote) => string.CompareOrdinal(Settings.OurId.Hex, remote.Hex) < 0;

    /// <summary>
    /// Two connections to one peer both completed (the nodes dialled each other at once, and each admitted one before
    /// the other arrived). Both nodes must keep the same one, the one dialled by the lower ID: true when
    /// <paramref name="candidate"/> is that one and the connected peer's is not, so the connected one is to be
    /// replaced by it; false when the candidate is to be refused as a duplicate.
    /// </summary>
    public bool ShouldReplace(bool existingIsOutbound, PeerCandidate candidate) =>
        DialledByLowerId(candidate.IsOutbound, candidate.Id) && !DialledByLowerId(existingIsOutbound, candidate.Id);

    private bool DialledByLowerId(bool outbound, NodeId remote) => outbound == OurDialWins(remote);

    private Admission? DuplicateIp(PeerSetSnapshot snapshot, PeerCandidate candidate) =>
        // Loopback is an IP like any other here, as in Go: two local nodes need allow-duplicate-ip.
        !Settings.AllowDuplicateIp && candidate.Ip is { } ip && snapshot.HasIp(ip)
            ? Admission.Reject(RejectReason.DuplicateIp,
                $"a peer from {NetAddress.Normalise(ip)} is already connected (allow-duplicate-ip is off)")
            : null;

    /// <remarks>
    /// Persistent peers count towards the outbound limit (so PEX dials fewer) but are not refused by it: Go never
    /// refuses them, and otherwise peers found by PEX could fill the slots and lock out the operator's own list.
    /// </remarks>
    private Admission OutboundLimit(PeerCandidate candidate, int counted, string note)
    {
        if (IsUnconditional(candidate.Id) || candidate.IsPersistent || counted < Settings.MaxOutboundPeers)
            return Admission.Accept;
        return Admission.Reject(RejectReason.TooManyOutbound,
            $"already {counted} outbound peers{note} (max-num-outbound-peers = {Settings.MaxOutboundPeers})");
    }
}
