using System.Net;
using System.Net.Sockets;

namespace TendermintActors.Protocol.AddrBook;

/// <summary>
/// The IP classification the address book relies on (docs/protocol.md §8), with the ranges Go's p2p.NetAddress names
/// after their RFCs. Addresses are normalised first, so an IPv4-mapped IPv6 address counts as IPv4.
/// </summary>
public static class IpRanges
{
    private static readonly Range Rfc1918A = Range.Parse("10.0.0.0", 8);
    private static readonly Range Rfc1918B = Range.Parse("172.16.0.0", 12);
    private static readonly Range Rfc1918C = Range.Parse("192.168.0.0", 16);
    private static readonly Range Rfc3927 = Range.Parse("169.254.0.0", 16);
    private static readonly Range ZeroNet = Range.Parse("0.0.0.0", 8);
    private static readonly Range Rfc3849 = Range.Parse("2001:db8::", 32);
    private static readonly Range Rfc3964 = Range.Parse("2002::", 16);
    private static readonly Range Rfc4193 = Range.Parse("fc00::", 7);
    private static readonly Range Rfc4380 = Range.Parse("2001::", 32);
    private static readonly Range Rfc4843 = Range.Parse("2001:10::", 28);
    private static readonly Range Rfc4862 = Range.Parse("fe80::", 64);
    private static readonly Range Rfc6052 = Range.Parse("64:ff9b::", 96);
    private static readonly Range Rfc6145 = Range.Parse("::ffff:0:0:0", 96);
    private static readonly Range HeNet = Range.Parse("2001:470::", 32);

    /// <summary>Why an IP can never be in the book whatever the mode, or null when it can.</summary>
    public static string? InvalidReason(IPAddress ip)
    {
        ip = Identity.NetAddress.Normalise(ip);
        if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
            return "the unspecified address";
        if (ip.Equals(IPAddress.Broadcast))
            return "the broadcast address 255.255.255.255";
        if (Rfc3849.Contains(ip))
            return "an RFC3849 documentation address (2001:db8::/32)";
        return null;
    }

    /// <summary>Loopback or 0.0.0.0/8 (Go's NetAddress.Local).</summary>
    public static bool IsLocal(IPAddress ip)
    {
        ip = Identity.NetAddress.Normalise(ip);
        return IPAddress.IsLoopback(ip) || ZeroNet.Contains(ip);
    }

    /// <summary>Why strict mode refuses an IP (a private, link-local or local range), or null when it is routable.</summary>
    public static string? UnroutableReason(IPAddress ip)
    {
        ip = Identity.NetAddress.Normalise(ip);
        if (InvalidReason(ip) is { } invalid)
            return invalid;
        if (Rfc1918A.Contains(ip) || Rfc1918B.Contains(ip) || Rfc1918C.Contains(ip))
            return "an RFC1918 private address";
        if (Rfc3927.Contains(ip))
            return "an RFC3927 link-local address (169.254/16)";
        if (Rfc4862.Contains(ip))
            return "an RFC4862 link-local address (fe80::/64)";
        if (Rfc4193.Contains(ip))
            return "an RFC4193 unique local address (fc00::/7)";
        if (Rfc4843.Contains(ip))
            return "an RFC4843 ORCHID address (2001:10::/28)";
        if (IPAddress.IsLoopback(ip))
            return "a loopback address";
        if (ZeroNet.Contains(ip))
            return "in 0.0.0.0/8";
        return null;
    }

    public static bool IsRoutable(IPAddress ip) => UnroutableReason(ip) is null;

    /// <summary>
    /// The group an address counts in, so that one network can only hold a share of the book: IPv4 /16, IPv6 /32
    /// (/36 for he.net), the embedded IPv4 of tunnelled ranges. Written as Go writes the masked IP, so the
    /// same group string (and so the same bucket) comes out for the same address. Local and unroutable
    /// addresses only get their own fixed groups in strict mode, as in Go.
    /// </summary>
    public static string GroupKey(IPAddress ip, bool routabilityStrict)
    {
        ip = Identity.NetAddress.Normalise(ip);
        if (routabilityStrict && IsLocal(ip))
            return "local";
        if (routabilityStrict && !IsRoutable(ip))
            return "unroutable";
        if (ip.AddressFamily == AddressFamily.InterNetwork)
            return Mask(ip.GetAddressBytes(), 16).ToString();
        var bytes = ip.GetAddressBytes();
        if (Rfc6145.Contains(ip) || Rfc6052.Contains(ip))
            return Mask(bytes[12..16], 16).ToString();
        if (Rfc3964.Contains(ip))
            return Mask(bytes[2..6], 16).ToString();
        if (Rfc4380.Contains(ip))
        {
            // Teredo carries the client's IPv4 in the last four bytes, inverted.
            var v4 = bytes[12..16];
            for (var i = 0; i < 4; i++)
                v4[i] ^= 0xff;
            return Mask(v4, 16).ToString();
        }
        // Hurricane Electric hands out /36s to individual tunnel users, so a /32 would lump them together.
        return Mask(bytes, HeNet.Contains(ip) ? 36 : 32).ToString();
    }

    private static IPAddress Mask(byte[] bytes, int bits)
    {
        var masked = (byte[])bytes.Clone();
        for (var i = 0; i < masked.Length; i++)
        {
            var keep = Math.Clamp(bits - i * 8, 0, 8);
            masked[i] &= (byte)(0xff << (8 - keep));
        }
        return new IPAddress(masked);
    }

    private readonly record struct Range(byte[] Prefix, int Bits, AddressFamily Family)
    {
        public static Range Parse(string ip, int bits)
        {
            var address = IPAddress.Parse(ip);
            return new Range(address.GetAddressBytes(), bits, address.AddressFamily);
        }

        public bool Contains(IPAddress ip)
        {
            if (ip.AddressFamily != Family)
                return false;
            var bytes = ip.GetAddressBytes();
            for (var i = 0; i < Prefix.Length && i * 8 < Bits; i++)
            {
                var keep = Math.Min(8, Bits - i * 8);
                var mask = (byte)(0xff << (8 - keep));
                if ((bytes[i] & mask) != (Prefix[i] & mask))
                    return false;
            }
            return true;
        }
    }
}
