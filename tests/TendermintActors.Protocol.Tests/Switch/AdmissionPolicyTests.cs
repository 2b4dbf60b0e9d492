using System.Net;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Switch;

namespace TendermintActors.Protocol.Tests.Switch;

public class AdmissionPolicyTests
{
    private static NodeId Id(char c) => NodeId.Parse(new string(c, NodeId.HexLength));

    // IDs by number, all sorting above ours ("5…") unless chosen otherwise.
    private static NodeId Id(int n) => NodeId.Parse("9" + n.ToString("x39"));

    private static readonly NodeId Us = Id('5');
    private static readonly NodeId Lower = Id('1');
    private static readonly NodeId Higher = Id('9');
    private static readonly NodeId Unconditional = Id('c');

    private static IPAddress Ip(int n) => new([10, 0, (byte)(n >> 8), (byte)n]);
    private static readonly IPAddress Stranger = IPAddress.Parse("192.0.2.1");

    private static AdmissionPolicy Policy(bool allowDuplicateIp = false) =>
        new(new AdmissionSettings(Us)
        {
            AllowDuplicateIp = allowDuplicateIp,
            UnconditionalPeerIds = new HashSet<NodeId> { Unconditional },
        });

    private static PeerSetSnapshot Snapshot(IEnumerable<ConnectedPeer> peers, params NodeId[] dialling) =>
        new(peers.ToList(), dialling.ToHashSet());

    private static PeerSetSnapshot Snapshot(params ConnectedPeer[] peers) => Snapshot(peers, []);

    private static IEnumerable<ConnectedPeer> Peers(int count, bool outbound, int first = 0, bool persistent = false) =>
        Enumerable.Range(first, count).Select(n => new ConnectedPeer(Id(n), Ip(n), outbound, persistent));

    private static PeerCandidate Inbound(NodeId id, IPAddress? ip = null, bool persistent = false) =>
        new(id, ip ?? Stranger, IsOutbound: false, persistent);

    private static PeerCandidate Outbound(NodeId id, IPAddress? ip = null, bool persistent = false) =>
        new(id, ip ?? Stranger, IsOutbound: true, persistent);

    private static void AssertRejected(RejectReason reason, Admission admission) =>
        Assert.Equal(reason, Assert.IsType<Admission.Rejected>(admission).Reason);

    // Self

    [Fact]
    public void A_connection_to_ourselves_is_rejected()
    {
        var policy = Policy();
        AssertRejected(RejectReason.Self, policy.AdmitPeer(PeerSetSnapshot.Empty, Inbound(Us)));
        AssertRejected(RejectReason.Self, policy.AdmitPeer(PeerSetSnapshot.Empty, Outbound(Us)));
        AssertRejected(RejectReason.Self, policy.AdmitDial(PeerSetSnapshot.Empty, Outbound(Us)));
    }

    [Fact]
    public void A_stranger_is_accepted_by_an_empty_switch()
    {
        var policy = Policy();
        Assert.Same(Admission.Accept, policy.AdmitPeer(PeerSetSnapshot.Empty, Inbound(Higher)));
        Assert.True(policy.AdmitPeer(PeerSetSnapshot.Empty, Outbound(Higher)).IsAccepted);
        Assert.True(policy.AdmitDial(PeerSetSnapshot.Empty, Outbound(Higher)).IsAccepted);
    }

    // Duplicate ID

    [Fact]
    public void A_peer_already_connected_is_rejected_in_either_direction()
    {
        var snapshot = Snapshot(new ConnectedPeer(Higher, Ip(1), IsOutbound: false, IsPersistent: false));
        var policy = Policy(allowDuplicateIp: true);
        AssertRejected(RejectReason.DuplicateId, policy.AdmitPeer(snapshot, Inbound(Higher)));
        AssertRejected(RejectReason.DuplicateId, policy.AdmitPeer(snapshot, Outbound(Higher)));
        AssertRejected(RejectReason.DuplicateId, policy.AdmitDial(snapshot, Outbound(Higher)));
        AssertRejected(RejectReason.DuplicateId, policy.AdmitPeer(snapshot, Inbound(Higher, persistent: true)));
    }

    [Fact]
    public void A_second_dial_to_an_ID_being_dialled_is_rejected()
    {
        var snapshot = Snapshot([], Higher);
        AssertRejected(RejectReason.DuplicateId, Policy().AdmitDial(snapshot, Outbound(Higher)));
    }

    [Fact]
    public void A_dialled_peer_is_not_a_duplicate_of_its_own_dial()
    {
        var snapshot = Snapshot([], Higher);
        Assert.True(Policy().AdmitPeer(snapshot, Outbound(Higher)).IsAccepted);
    }

    [Fact]
    public void Of_two_crossing_connections_the_one_dialled_by_the_lower_ID_is_kept()
    {
        var policy = Policy();
        // We dial a peer with a higher ID while it dials us: our dial wins, its inbound is refused.
        AssertRejected(RejectReason.DuplicateId, policy.AdmitPeer(Snapshot([], Higher), Inbound(Higher)));
        // We dial a peer with a lower ID while it dials us: its dial wins, its inbound is accepted ...
        Assert.True(policy.AdmitPeer(Snapshot([], Lower), Inbound(Lower)).IsAccepted);
        // ... and our own dial then finds it connected.
        var afterwards = Snapshot([new ConnectedPeer(Lower, Stranger, false, false)], Lower);
        AssertRejected(RejectReason.DuplicateId, policy.AdmitPeer(afterwards, Outbound(Lower)));
    }

    [Fact]
    public void Both_sides_of_a_crossing_keep_the_same_connection()
    {
        // Each node sees the other's inbound while its own dial is in progress; exactly one inbound is accepted,
        // so exactly one connection (the one the accepting side did not dial) survives on both sides.
        var lowSide = new AdmissionPolicy(new AdmissionSettings(Lower));
        var highSide = new AdmissionPolicy(new AdmissionSettings(Higher));
        var lowKeepsInbound = lowSide.AdmitPeer(Snapshot([], Higher), Inbound(Higher)).IsAccepted;
        var highKeepsInbound = highSide.AdmitPeer(Snapshot([], Lower), Inbound(Lower)).IsAccepted;
        Assert.False(lowKeepsInbound);
        Assert.True(highKeepsInbound);
    }

    [Fact]
    public void When_each_side_admitted_a_different_one_of_two_crossing_connections_both_replace_it_by_the_lower_ID_s_dial()
    {
        // Each node admitted the connection it saw complete first, and they differ: the low side has the high side's
        // dial (inbound), the high side has its own dial (outbound). Both must end with the low side's dial.
        var lowSide = new AdmissionPolicy(new AdmissionSettings(Lower));
        var highSide = new AdmissionPolicy(new AdmissionSettings(Higher));

        // The low side's own dial completes while it holds the inbound one: replace.
        Assert.True(lowSide.ShouldReplace(existingIsOutbound: false, Outbound(Higher)));
        // The high side receives the low side's dial while it holds its own: replace.
        Assert.True(highSide.ShouldReplace(existingIsOutbound: true, Inbound(Lower)));
        // The other way round the existing one is already the low side's dial: refuse the newcomer instead.
        Assert.False(lowSide.ShouldReplace(existingIsOutbound: true, Inbound(Higher)));
        Assert.False(highSide.ShouldReplace(existingIsOutbound: false, Outbound(Lower)));
        // A second connection in the same direction is never a reason to replace.
        Assert.False(lowSide.ShouldReplace(existingIsOutbound: true, Outbound(Higher)));
        Assert.False(highSide.ShouldReplace(existingIsOutbound: false, Inbound(Lower)));
    }

    // Duplicate IP

    [Fact]
    public void A_second_connection_from_a_connected_IP_is_rejected()
    {
        var snapshot = Snapshot(new ConnectedPeer(Id(1), Ip(1), IsOutbound: false, IsPersistent: false));
        var policy = Policy();
        AssertRejected(RejectReason.DuplicateIp, policy.AdmitPeer(snapshot, Inbound(Higher, Ip(1))));
        AssertRejected(RejectReason.DuplicateIp, policy.AdmitPeer(snapshot, Outbound(Higher, Ip(1))));
        AssertRejected(RejectReason.DuplicateIp, policy.AdmitDial(snapshot, Outbound(Higher, Ip(1))));
        AssertRejected(RejectReason.DuplicateIp, policy.AdmitPeer(snapshot, Inbound(Unconditional, Ip(1))));
        Assert.True(policy.AdmitPeer(snapshot, Inbound(Higher, Ip(2))).IsAccepted);
    }

    [Fact]
    public void A_duplicate_IP_is_accepted_when_allowed()
    {
        var snapshot = Snapshot(new ConnectedPeer(Id(1), Ip(1), IsOutbound: false, IsPersistent: false));
        var policy = Policy(allowDuplicateIp: true);
        Assert.True(policy.AdmitPeer(snapshot, Inbound(Higher, Ip(1))).IsAccepted);
        Assert.True(policy.AdmitDial(snapshot, Outbound(Higher, Ip(1))).IsAccepted);
    }

    [Fact]
    public void Loopback_counts_as_a_duplicate_IP_like_any_other()
    {
        var snapshot = Snapshot(new ConnectedPeer(Id(1), IPAddress.Loopback, IsOutbound: true, IsPersistent: false));
        AssertRejected(RejectReason.DuplicateIp, Policy().AdmitPeer(snapshot, Inbound(Higher, IPAddress.Loopback)));
    }

    [Fact]
    public void An_IPv4_mapped_IPv6_address_is_the_same_IP_as_its_IPv4()
    {
        var snapshot = Snapshot(new ConnectedPeer(Id(1), Ip(1), IsOutbound: false, IsPersistent: false));
        AssertRejected(RejectReason.DuplicateIp, Policy().AdmitPeer(snapshot, Inbound(Higher, Ip(1).MapToIPv6())));
    }

    [Fact]
    public void A_dial_to_an_unresolved_name_skips_the_IP_rule()
    {
        var snapshot = Snapshot(new ConnectedPeer(Id(1), Ip(1), IsOutbound: false, IsPersistent: false));
        Assert.True(Policy().AdmitDial(snapshot, new PeerCandidate(Higher, null, true, false)).IsAccepted);
    }

    [Fact]
    public void A_duplicate_ID_is_reported_before_a_duplicate_IP()
    {
        var snapshot = Snapshot(new ConnectedPeer(Higher, Ip(1), IsOutbound: false, IsPersistent: false));
        AssertRejected(RejectReason.DuplicateId, Policy().AdmitPeer(snapshot, Inbound(Higher, Ip(1))));
    }

    // Inbound limit

    [Fact]
    public void Inbound_is_accepted_just_under_the_limit_and_rejected_at_it()
    {
        var policy = Policy();
        Assert.True(policy.AdmitPeer(Snapshot(Peers(39, outbound: false).ToArray()), Inbound(Higher)).IsAccepted);
        var full = Snapshot(Peers(40, outbound: false).ToArray());
        var rejected = Assert.IsType<Admission.Rejected>(policy.AdmitPeer(full, Inbound(Higher)));
        Assert.Equal(RejectReason.TooManyInbound, rejected.Reason);
        Assert.Contains("40", rejected.Message);
    }

    [Fact]
    public void Outbound_peers_do_not_count_towards_the_inbound_limit()
    {
        var snapshot = Snapshot(Peers(39, outbound: false).Concat(Peers(10, outbound: true, first: 100)).ToArray());
        Assert.True(Policy().AdmitPeer(snapshot, Inbound(Higher)).IsAccepted);
    }

    [Fact]
    public void An_unconditional_peer_is_accepted_beyond_the_inbound_limit()
    {
        var full = Snapshot(Peers(40, outbound: false).ToArray());
        Assert.True(Policy().AdmitPeer(full, Inbound(Unconditional)).IsAccepted);
    }

    [Fact]
    public void Unconditional_peers_do_not_count_towards_the_inbound_limit()
    {
        var peers = Peers(39, outbound: false).Append(new ConnectedPeer(Unconditional, Stranger, false, false));
        Assert.True(Policy().AdmitPeer(Snapshot(peers.ToArray()), Inbound(Higher, Ip(1000))).IsAccepted);
    }

    [Fact]
    public void A_persistent_peer_is_held_to_the_inbound_limit_as_in_Go()
    {
        var full = Snapshot(Peers(40, outbound: false).ToArray());
        AssertRejected(RejectReason.TooManyInbound, Policy().AdmitPeer(full, Inbound(Higher, persistent: true)));
    }

    [Fact]
    public void The_inbound_limit_is_a_setting()
    {
        var policy = new AdmissionPolicy(new AdmissionSettings(Us) { MaxInboundPeers = 2 });
        Assert.True(policy.AdmitPeer(Snapshot(Peers(1, outbound: false).ToArray()), Inbound(Higher)).IsAccepted);
        AssertRejected(RejectReason.TooManyInbound, policy.AdmitPeer(Snapshot(Peers(2, outbound: false).ToArray()), Inbound(Higher)));
    }

    // Outbound limit

    [Fact]
    public void Outbound_is_accepted_just_under_the_limit_and_rejected_at_it()
    {
        var policy = Policy();
        Assert.True(policy.AdmitPeer(Snapshot(Peers(9, outbound: true).ToArray()), Outbound(Higher)).IsAccepted);
        AssertRejected(RejectReason.TooManyOutbound, policy.AdmitPeer(Snapshot(Peers(10, outbound: true).ToArray()), Outbound(Higher)));
    }

    [Fact]
    public void Persistent_peers_count_towards_the_outbound_limit()
    {
        var snapshot = Snapshot(Peers(9, outbound: true).Append(new ConnectedPeer(Id(500), Ip(500), true, IsPersistent: true)).ToArray());
        AssertRejected(RejectReason.TooManyOutbound, Policy().AdmitPeer(snapshot, Outbound(Higher)));
        Assert.Equal(new PeerCounts(10, 0, 0), Policy().Count(snapshot));
    }

    [Fact]
    public void A_persistent_peer_is_not_refused_by_the_outbound_limit()
    {
        var full = Snapshot(Peers(10, outbound: true).ToArray());
        Assert.True(Policy().AdmitPeer(full, Outbound(Higher, persistent: true)).IsAccepted);
        Assert.True(Policy().AdmitDial(full, Outbound(Higher, persistent: true)).IsAccepted);
    }

    [Fact]
    public void An_unconditional_peer_is_accepted_beyond_the_outbound_limit_and_not_counted()
    {
        var policy = Policy();
        var full = Snapshot(Peers(10, outbound: true).ToArray());
        Assert.True(policy.AdmitPeer(full, Outbound(Unconditional)).IsAccepted);
        Assert.True(policy.AdmitDial(full, Outbound(Unconditional)).IsAccepted);
        var withUnconditional = Snapshot(Peers(9, outbound: true).Append(new ConnectedPeer(Unconditional, Stranger, true, false)).ToArray());
        Assert.True(policy.AdmitPeer(withUnconditional, Outbound(Higher, Ip(1000))).IsAccepted);
    }

    [Fact]
    public void Dials_in_progress_count_towards_the_outbound_limit_before_dialling()
    {
        var policy = Policy();
        Assert.True(policy.AdmitDial(Snapshot(Peers(8, outbound: true), Id(900)), Outbound(Higher)).IsAccepted);
        var rejected = Assert.IsType<Admission.Rejected>(
            policy.AdmitDial(Snapshot(Peers(8, outbound: true), Id(900), Id(901)), Outbound(Higher)));
        Assert.Equal(RejectReason.TooManyOutbound, rejected.Reason);
        Assert.Contains("dials in progress", rejected.Message);
        // A dial to an unconditional peer does not take a slot.
        Assert.True(policy.AdmitDial(Snapshot(Peers(8, outbound: true), Id(900), Unconditional), Outbound(Higher)).IsAccepted);
    }

    [Fact]
    public void Inbound_peers_do_not_count_towards_the_outbound_limit()
    {
        var snapshot = Snapshot(Peers(9, outbound: true).Concat(Peers(40, outbound: false, first: 100)).ToArray());
        Assert.True(Policy().AdmitPeer(snapshot, Outbound(Higher)).IsAccepted);
    }

    // Counting and arguments

    [Fact]
    public void Counts_leave_out_unconditional_peers_and_dials()
    {
        var snapshot = Snapshot(
            Peers(3, outbound: true).Concat(Peers(2, outbound: false, first: 10))
                .Append(new ConnectedPeer(Unconditional, Stranger, true, false)),
            Id(20), Id(21));
        Assert.Equal(new PeerCounts(Outbound: 3, Inbound: 2, Dialling: 2), Policy().Count(snapshot));
    }

    [Fact]
    public void Misused_candidates_are_refused()
    {
        var policy = Policy();
        Assert.Throws<ArgumentException>(() => policy.AdmitDial(PeerSetSnapshot.Empty, Inbound(Higher)));
        Assert.Throws<ArgumentException>(() => policy.AdmitPeer(PeerSetSnapshot.Empty, new PeerCandidate(Higher, null, false, false)));
    }
}
