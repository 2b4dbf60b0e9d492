using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TendermintActors.Protocol.Identity;

/// <summary>
/// A peer address <c>id@host:port</c> (docs/protocol.md §1). The host is an IPv4 or IPv6 literal or a DNS name; a
/// DNS name is kept as written and resolved each time it is dialled.
/// </summary>
public sealed record NetAddress
{
    public NetAddress(NodeId id, string host, int port)
    {
        if (port is < 0 or > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(port), port, "port must be 0-65535");
        Id = id;
        Host = host;
        Port = port;
        Ip = IPAddress.TryParse(host, out var ip) ? Normalise(ip) : null;
    }

    public NetAddress(NodeId id, IPAddress ip, int port) : this(id, Normalise(ip).ToString(), port) { }

    public NodeId Id { get; }

    /// <summary>IP literal (without brackets) or DNS name.</summary>
    public string Host { get; }

    public int Port { get; }

    /// <summary>The IP when <see cref="Host"/> is a literal; null for a DNS name.</summary>
    public IPAddress? Ip { get; }

    public bool IsDnsName => Ip is null;

    /// <summary><c>host:port</c>, with IPv6 hosts in brackets.</summary>
    public string HostPort => FormatHostPort(Host, Port);

    public override string ToString() => $"{Id}@{HostPort}";

    public static string FormatHostPort(string host, int port) =>
        host.Contains(':') ? $"[{host}]:{port}" : $"{host}:{port}";

    /// <summary>IPv4-mapped IPv6 addresses count as IPv4 (as in Go, where net.IP.To4 unwraps them).</summary>
    public static IPAddress Normalise(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    /// <summary>Parses <c>[tcp://]id@host:port</c>; the error names the part that is wrong.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out NetAddress? address, [NotNullWhen(false)] out string? error) =>
        TryParse(text, allowPortZero: false, out address, out error);

    /// <summary>As <see cref="TryParse(string?, out NetAddress?, out string?)"/>; port 0 is accepted when asked
    /// (Go accepts it in a node info's listen address, from a node that does not listen).</summary>
    public static bool TryParse(string? text, bool allowPortZero, [NotNullWhen(true)] out NetAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "peer address is empty";
            return false;
        }
        var rest = text.Trim();
        var scheme = rest.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            var protocol = rest[..scheme];
            if (!protocol.Equals("tcp", StringComparison.OrdinalIgnoreCase))
            {
                error = $"peer address '{text}': protocol '{protocol}' is not supported (only tcp://)";
                return false;
            }
            rest = rest[(scheme + 3)..];
        }
        var at = rest.IndexOf('@');
        if (at < 0)
        {
            error = $"peer address '{text}' has no node ID: expected id@host:port";
            return false;
        }
        if (!NodeId.TryParse(rest[..at], out var id, out var idError))
        {
            error = $"peer address '{text}': {idError}";
            return false;
        }
        if (!TryParseHostPort(rest[(at + 1)..], allowPortZero, out var host, out var port, out var hpError))
        {
            error = $"peer address '{text}': {hpError}";
            return false;
        }
        address = new NetAddress(id, host, port);
        error = null;
        return true;
    }

    public static NetAddress Parse(string text) =>
        TryParse(text, out var address, out var error) ? address : throw new FormatException(error);

    /// <summary>A comma-separated list (spaces trimmed, empty entries ignored); the error names the bad entry.</summary>
    public static IReadOnlyList<NetAddress> ParseList(string? commaSeparated)
    {
        var result = new List<NetAddress>();
        if (string.IsNullOrWhiteSpace(commaSeparated))
            return result;
        foreach (var entry in commaSeparated.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            result.Add(Parse(entry));
        return result;
    }

    /// <summary>Parses <c>host:port</c> with an optional <c>tcp://</c> (a listen address, for instance).</summary>
    public static bool TryParseHostPort(string text, [NotNullWhen(true)] out string? host, out int port, [NotNullWhen(false)] out string? error) =>
        TryParseHostPort(text, allowPortZero: false, out host, out port, out error);

    public static bool TryParseHostPort(string text, bool allowPortZero, [NotNullWhen(true)] out string? host, out int port, [NotNullWhen(false)] out string? error)
    {
        host = null;
        port = 0;
        var rest = text;
        var scheme = rest.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
            rest = rest[(scheme + 3)..];
        string hostPart, portPart;
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']');
            if (close < 0 || close + 1 >= rest.Length || rest[close + 1] != ':')
            {
                error = $"'{text}': an IPv6 host must be written [addr]:port";
                return false;
            }
            hostPart = rest[1..close];
            portPart = rest[(close + 2)..];
            if (!IPAddress.TryParse(hostPart, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"'{text}': '{hostPart}' in brackets is not an IPv6 address";
                return false;
            }
        }
        else
        {
            var colon = rest.LastIndexOf(':');
            if (colon < 0)
            {
                error = $"'{text}' has no port: expected host:port";
                return false;
            }
            hostPart = rest[..colon];
            portPart = rest[(colon + 1)..];
            if (hostPart.Contains(':'))
            {
                error = $"'{text}': an IPv6 host must be in brackets, as [{hostPart}]:{portPart}";
                return false;
            }
            if (hostPart.Length == 0)
            {
                error = $"'{text}' has an empty host";
                return false;
            }
            if (!IPAddress.TryParse(hostPart, out _) && !IsValidDnsName(hostPart))
            {
                error = $"'{text}': host '{hostPart}' is neither an IP address nor a valid DNS name";
                return false;
            }
        }
        if (!int.TryParse(portPart, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535 || port < (allowPortZero ? 0 : 1))
        {
            error = $"'{text}': port '{portPart}' is not a number from {(allowPortZero ? 0 : 1)} to 65535";
            return false;
        }
        host = IPAddress.TryParse(hostPart, out var literal) ? Normalise(literal).ToString() : hostPart;
        error = null;
        return true;
    }

    private static bool IsValidDnsName(string host)
    {
        if (host.Length > 253)
            return false;
        foreach (var label in host.TrimEnd('.').Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            foreach (var c in label)
                if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
                    return false;
        }
        return true;
    }

    /// <summary>The wire form (PEX): the host must be an IP literal.</summary>
    internal Wire.NetAddress ToProto() =>
        new() { Id = Id.Hex, Ip = Ip?.ToString() ?? Host, Port = (uint)Port };

    /// <summary>Reads a wire address; the error says what is wrong (bad ID, an ip that is not a literal, a bad port).</summary>
    internal static bool TryFromProto(Wire.NetAddress proto, [NotNullWhen(true)] out NetAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (!NodeId.TryParse(proto.Id, out var id, out error))
            return false;
        if (!IPAddress.TryParse(proto.Ip, out var ip))
        {
            error = $"ip '{proto.Ip}' is not an IP address";
            return false;
        }
        if (proto.Port > ushort.MaxValue)
        {
            error = $"port {proto.Port} is out of range";
            return false;
        }
        address = new NetAddress(id, ip, (int)proto.Port);
        return true;
    }
}
