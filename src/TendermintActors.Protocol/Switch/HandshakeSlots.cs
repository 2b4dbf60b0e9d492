using System.Net;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Switch;

/// <summary>
/// The bound on inbound handshakes in progress (docs/protocol.md §6, "we do better"): an accepted connection takes a slot
/// until its handshake ends (peer added or refused, handshake failed or timed out); when none is free it is closed at
/// once rather than left waiting, as Go's listener leaves it.
/// </summary>
/// <remarks>
/// Unconditional peers must get through a flood, but a peer's ID is only known after the handshake, so before it
/// the only hint is the remote IP. The switch tells us the last IP of each persistent and unconditional peer
/// (<see cref="Trust"/>: the IP it dialled or was last connected from); a connection from such an IP that finds the
/// common slots full gets one of <see cref="ReservedPerTrustedIp"/> slots of its own. The reserve is per IP, so a
/// flood from elsewhere cannot use it up, and bounded, because an IP is no proof of identity (a NAT can hide an
/// attacker behind a trusted peer's address). A trusted peer whose IP we have never seen (an inbound-only
/// unconditional peer before its first connection) competes like anyone else. Dials are not counted: our own dials
/// are already bounded by the outbound limit.
/// </remarks>
public sealed class HandshakeSlots
{
    /// <summary>As many handshakes at once as Go lets connections wait at its listener (<c>max-num-inbound-peers</c>).</summary>
    public const int DefaultMaxConcurrent = 40;

    /// <summary>One for the peer's connection, one more for a reconnect while the previous attempt times out.</summary>
    public const int DefaultReservedPerTrustedIp = 2;

    private readonly Dictionary<NodeId, IPAddress> _trustedIpById = new();
    private readonly Dictionary<IPAddress, int> _trustedIds = new(); // IP -> how many trusted IDs were last seen there
    private readonly Dictionary<IPAddress, int> _reservedInUse = new();

    public HandshakeSlots(int maxConcurrent = DefaultMaxConcurrent, int reservedPerTrustedIp = DefaultReservedPerTrustedIp)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxConcurrent);
        ArgumentOutOfRangeException.ThrowIfNegative(reservedPerTrustedIp);
        MaxConcurrent = maxConcurrent;
        ReservedPerTrustedIp = reservedPerTrustedIp;
    }

    public int MaxConcurrent { get; }
    public int ReservedPerTrustedIp { get; }

    /// <summary>Common slots held.</summary>
    public int InUse { get; private set; }

    /// <summary>Reserved slots held, over all trusted IPs.</summary>
    public int ReservedInUse { get; private set; }

    /// <summary>Records <paramref name="ip"/> as the last address of persistent or unconditional peer <paramref name="id"/>, replacing the previous one.</summary>
    public void Trust(NodeId id, IPAddress ip)
    {
        ArgumentNullException.ThrowIfNull(ip);
        ip = NetAddress.Normalise(ip);
        if (_trustedIpById.TryGetValue(id, out var previous))
        {
            if (previous.Equals(ip)) return;
            Decrement(_trustedIds, previous);
        }
        _trustedIpById[id] = ip;
        _trustedIds[ip] = _trustedIds.GetValueOrDefault(ip) + 1;
    }

    /// <summary>Stops trusting the last IP of <paramref name="id"/> (no longer persistent or unconditional).</summary>
    public void Untrust(NodeId id)
    {
        if (_trustedIpById.Remove(id, out var ip))
            Decrement(_trustedIds, ip);
    }

    public bool IsTrusted(IPAddress ip) => _trustedIds.ContainsKey(NetAddress.Normalise(ip));

    /// <summary>
    /// Takes a slot for a connection from <paramref name="remoteIp"/>: a common one if free, else a reserved one if
    /// the IP is trusted. False means close the connection now.
    /// </summary>
    public bool TryAcquire(IPAddress remoteIp, out HandshakeSlot slot)
    {
        ArgumentNullException.ThrowIfNull(remoteIp);
        if (InUse < MaxConcurrent)
        {
            InUse++;
            slot = new HandshakeSlot(null);
            return true;
        }
        var ip = NetAddress.Normalise(remoteIp);
        if (IsTrusted(ip) && _reservedInUse.GetValueOrDefault(ip) < ReservedPerTrustedIp)
        {
            _reservedInUse[ip] = _reservedInUse.GetValueOrDefault(ip) + 1;
            ReservedInUse++;
            slot = new HandshakeSlot(ip);
            return true;
        }
        slot = default;
        return false;
    }

    /// <summary>Gives back a slot when its handshake ends, however it ends. Each slot is released once.</summary>
    public void Release(HandshakeSlot slot)
    {
        if (!slot.IsHeld)
            throw new ArgumentException("not a slot from TryAcquire", nameof(slot));
        if (slot.ReservedFor is { } ip)
        {
            if (!_reservedInUse.ContainsKey(ip))
                throw new InvalidOperationException($"no reserved handshake slot for {ip} is held");
            Decrement(_reservedInUse, ip);
            ReservedInUse--;
        }
        else
        {
            if (InUse == 0)
                throw new InvalidOperationException("no common handshake slot is held");
            InUse--;
        }
    }

    private static void Decrement(Dictionary<IPAddress, int> counts, IPAddress ip)
    {
        var n = counts[ip] - 1;
        if (n == 0) counts.Remove(ip);
        else counts[ip] = n;
    }
}

/// <summary>A slot held by one handshake; hand it back to <see cref="HandshakeSlots.Release"/>.</summary>
public readonly record struct HandshakeSlot
{
    internal HandshakeSlot(IPAddress? reservedFor)
    {
        IsHeld = true;
        ReservedFor = reservedFor;
    }

    /// <summary>False for <c>default</c>, which no acquire returns.</summary>
    public bool IsHeld { get; }

    /// <summary>The trusted IP whose reserve this slot is from; null for a common slot.</summary>
    public IPAddress? ReservedFor { get; }

    public bool IsReserved => ReservedFor is not null;
}
