using System.Net;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Switch;

namespace TendermintActors.Protocol.Tests.Switch;

public class HandshakeSlotsTests
{
    private static readonly IPAddress Stranger = IPAddress.Parse("198.51.100.7");
    private static readonly IPAddress PeerIp = IPAddress.Parse("203.0.113.1");
    private static readonly IPAddress OtherPeerIp = IPAddress.Parse("203.0.113.2");
    private static readonly NodeId Persistent = NodeId.Parse(new string('a', 40));
    private static readonly NodeId Unconditional = NodeId.Parse(new string('b', 40));

    private static HandshakeSlots Full(int max = 2, int reserved = 2)
    {
        var slots = new HandshakeSlots(max, reserved);
        for (var i = 0; i < max; i++)
            Assert.True(slots.TryAcquire(Stranger, out _));
        return slots;
    }

    [Fact]
    public void Handshakes_beyond_the_bound_are_refused_at_once()
    {
        var slots = new HandshakeSlots(maxConcurrent: 2);
        Assert.True(slots.TryAcquire(Stranger, out var first));
        Assert.True(slots.TryAcquire(Stranger, out _));
        Assert.False(slots.TryAcquire(Stranger, out var none));
        Assert.False(none.IsHeld);
        Assert.Equal(2, slots.InUse);
        Assert.False(first.IsReserved);
    }

    [Fact]
    public void A_released_slot_can_be_taken_again()
    {
        var slots = new HandshakeSlots(maxConcurrent: 1);
        Assert.True(slots.TryAcquire(Stranger, out var slot));
        Assert.False(slots.TryAcquire(Stranger, out _));
        slots.Release(slot);
        Assert.Equal(0, slots.InUse);
        Assert.True(slots.TryAcquire(Stranger, out _));
    }

    [Fact]
    public void A_trusted_IP_gets_through_when_the_common_slots_are_full()
    {
        var slots = Full();
        slots.Trust(Unconditional, PeerIp);
        Assert.True(slots.TryAcquire(PeerIp, out var slot));
        Assert.True(slot.IsReserved);
        Assert.Equal(PeerIp, slot.ReservedFor);
        Assert.Equal(1, slots.ReservedInUse);
        Assert.False(slots.TryAcquire(Stranger, out _));    // the reserve is not for strangers
    }

    [Fact]
    public void A_trusted_IP_uses_a_common_slot_while_one_is_free()
    {
        var slots = new HandshakeSlots(maxConcurrent: 2);
        slots.Trust(Persistent, PeerIp);
        Assert.True(slots.TryAcquire(PeerIp, out var slot));
        Assert.False(slot.IsReserved);
        Assert.Equal(0, slots.ReservedInUse);
    }

    [Fact]
    public void The_reserve_is_bounded_per_trusted_IP()
    {
        var slots = Full(reserved: 2);
        slots.Trust(Persistent, PeerIp);
        slots.Trust(Unconditional, OtherPeerIp);
        Assert.True(slots.TryAcquire(PeerIp, out var held));
        Assert.True(slots.TryAcquire(PeerIp, out _));
        Assert.False(slots.TryAcquire(PeerIp, out _));       // an attacker behind the peer's NAT gets no more
        Assert.True(slots.TryAcquire(OtherPeerIp, out _));   // and cannot use up another peer's reserve
        slots.Release(held);
        Assert.True(slots.TryAcquire(PeerIp, out _));
        Assert.Equal(3, slots.ReservedInUse);
    }

    [Fact]
    public void Trust_follows_a_peer_to_its_last_IP()
    {
        var slots = Full();
        slots.Trust(Persistent, PeerIp);
        slots.Trust(Persistent, OtherPeerIp);
        Assert.False(slots.IsTrusted(PeerIp));
        Assert.True(slots.IsTrusted(OtherPeerIp));
        Assert.False(slots.TryAcquire(PeerIp, out _));
        Assert.True(slots.TryAcquire(OtherPeerIp, out _));
    }

    [Fact]
    public void An_IP_stays_trusted_while_any_trusted_peer_was_last_seen_there()
    {
        var slots = new HandshakeSlots();
        slots.Trust(Persistent, PeerIp);
        slots.Trust(Unconditional, PeerIp);
        slots.Untrust(Persistent);
        Assert.True(slots.IsTrusted(PeerIp));
        slots.Untrust(Unconditional);
        Assert.False(slots.IsTrusted(PeerIp));
        slots.Untrust(Unconditional);                         // twice is harmless
    }

    [Fact]
    public void A_reserved_slot_is_released_even_after_its_IP_lost_trust()
    {
        var slots = Full();
        slots.Trust(Persistent, PeerIp);
        Assert.True(slots.TryAcquire(PeerIp, out var slot));
        slots.Untrust(Persistent);
        slots.Release(slot);
        Assert.Equal(0, slots.ReservedInUse);
        Assert.False(slots.TryAcquire(PeerIp, out _));
    }

    [Fact]
    public void An_IPv4_mapped_address_is_trusted_as_its_IPv4_address()
    {
        var slots = Full();
        slots.Trust(Persistent, PeerIp.MapToIPv6());
        Assert.True(slots.TryAcquire(PeerIp, out var slot));
        Assert.Equal(PeerIp, slot.ReservedFor);
    }

    [Fact]
    public void Releasing_what_is_not_held_is_refused()
    {
        var slots = new HandshakeSlots(maxConcurrent: 1);
        Assert.Throws<ArgumentException>(() => slots.Release(default));
        Assert.True(slots.TryAcquire(Stranger, out var slot));
        slots.Release(slot);
        Assert.Throws<InvalidOperationException>(() => slots.Release(slot));
    }

    [Fact]
    public void A_zero_bound_admits_only_trusted_IPs()
    {
        var slots = new HandshakeSlots(maxConcurrent: 0, reservedPerTrustedIp: 1);
        slots.Trust(Unconditional, PeerIp);
        Assert.False(slots.TryAcquire(Stranger, out _));
        Assert.True(slots.TryAcquire(PeerIp, out _));
    }
}
