using System.Collections.Immutable;
using Google.Protobuf;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using Wire = TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.NodeInfo;

/// <summary>The p2p/block/app protocol versions a node speaks.</summary>
public sealed record ProtocolVersion(ulong P2P, ulong Block, ulong App)
{
    /// <summary>What a Tendermint v0.34 / CometBFT node sends: p2p 8, block 11, app 0.</summary>
    public static ProtocolVersion Default { get; } = new(8, 11, 0);
}

/// <summary>
/// DefaultNodeInfo: what each side tells the other straight after the SecretConnection (docs/protocol.md §4).
/// <see cref="Validate"/> and <see cref="CheckCompatibleWith"/> are Go's rules, in Go's order.
/// </summary>
public sealed record NodeInfo
{
    public const int MaxSize = 10240;
    public const int MaxChannels = 16;

    public required ProtocolVersion ProtocolVersion { get; init; }
    /// <summary>The ID as the remote wrote it (validated against the authenticated key, not trusted).</summary>
    public required string DefaultNodeId { get; init; }
    public required string ListenAddr { get; init; }
    public required string Network { get; init; }
    public string Version { get; init; } = "";
    public ImmutableArray<byte> Channels { get; init; } = [];
    public required string Moniker { get; init; }
    public string TxIndex { get; init; } = "";
    public string RpcAddress { get; init; } = "";

    /// <summary>Our own node info.</summary>
    public static NodeInfo Create(NodeId id, string listenAddr, string network, string moniker,
        IEnumerable<byte> channels, string version = "", ProtocolVersion? protocolVersion = null,
        string txIndex = "off", string rpcAddress = "") =>
        new()
        {
            ProtocolVersion = protocolVersion ?? ProtocolVersion.Default,
            DefaultNodeId = id.Hex,
            ListenAddr = listenAddr,
            Network = network,
            Version = version,
            Channels = [.. channels],
            Moniker = moniker,
            TxIndex = txIndex,
            RpcAddress = rpcAddress,
        };

    /// <summary>The ID, once <see cref="Validate"/> has passed... or <c>default</c> if it is not a valid ID.</summary>
    public NodeId Id => NodeId.TryParse(DefaultNodeId, out var id, out _) ? id : default;

    /// <summary>The listen address with the ID in front, as peers dial it.</summary>
    public NetAddress ToNetAddress()
    {
        if (!NetAddress.TryParseHostPort(ListenAddr, allowPortZero: true, out var host, out var port, out var error))
            throw new FormatException($"listen address {error}");
        return new NetAddress(NodeId.Parse(DefaultNodeId), host, port);
    }

    /// <summary>The listen address with the ID in front, or null when it is not a valid id@host:port (PEX's source of a peer).</summary>
    public NetAddress? ToNetAddressOrNull() =>
        NetAddress.TryParse($"{DefaultNodeId}@{StripProtocol(ListenAddr)}", allowPortZero: true, out var address, out _) ? address : null;

    public bool HasChannel(byte channel) => Channels.Contains(channel);

    /// <summary>Go's DefaultNodeInfo.Validate. Throws <see cref="NodeInfoRejectedException"/> (Invalid).</summary>
    public void Validate()
    {
        if (!NetAddress.TryParse($"{DefaultNodeId}@{StripProtocol(ListenAddr)}", allowPortZero: true, out _, out var addrError))
            Invalid($"listen address '{ListenAddr}' with the ID in front is not id@host:port ({addrError})");
        if (Channels.Length > MaxChannels)
            Invalid($"{Channels.Length} channels, at most {MaxChannels} are allowed");
        var seen = new HashSet<byte>();
        foreach (var ch in Channels)
            if (!seen.Add(ch))
                Invalid($"channel 0x{ch:x2} is listed twice");
        if (Version.Length > 0 && (!IsAsciiText(Version) || Version.Trim(' ').Length == 0))
            Invalid($"version '{Version}' is not printable ASCII or is only spaces");
        if (!IsAsciiText(Moniker) || Moniker.Trim(' ').Length == 0)
            Invalid($"moniker '{Moniker}' is empty, only spaces or not printable ASCII");
        if (TxIndex is not ("" or "on" or "off"))
            Invalid($"other.tx_index '{TxIndex}' is not one of \"\", \"on\", \"off\"");
        if (RpcAddress.Length > 0 && (!IsAsciiText(RpcAddress) || RpcAddress.Trim(' ').Length == 0))
            Invalid($"other.rpc_address '{RpcAddress}' is not printable ASCII or is only spaces");
    }

    /// <summary>Go's CompatibleWith: same block version and network, and a common channel if we declared any.</summary>
    public void CheckCompatibleWith(NodeInfo remote)
    {
        if (ProtocolVersion.Block != remote.ProtocolVersion.Block)
            throw new NodeInfoRejectedException(NodeInfoRejection.IncompatibleBlockVersion,
                $"peer speaks block protocol {remote.ProtocolVersion.Block}, we speak {ProtocolVersion.Block}");
        if (Network != remote.Network)
            throw new NodeInfoRejectedException(NodeInfoRejection.IncompatibleNetwork,
                $"peer is on network '{remote.Network}', we are on '{Network}'");
        if (Channels.Length == 0) return;
        foreach (var ch in Channels)
            if (remote.Channels.Contains(ch))
                return;
        throw new NodeInfoRejectedException(NodeInfoRejection.NoCommonChannels,
            $"peer has channels [{Hex(remote.Channels)}], we have [{Hex(Channels)}]: none in common");
    }

    /// <summary>
    /// Every check on a received node info, in docs/protocol.md §4's order: valid, matching the authenticated ID, not
    /// ourselves, compatible. The ID check comes before the self check so nobody can claim to be us.
    /// </summary>
    public static void CheckRemote(NodeInfo local, NodeInfo remote, NodeId authenticatedId)
    {
        remote.Validate();
        if (remote.DefaultNodeId != authenticatedId.Hex)
            throw new NodeInfoRejectedException(NodeInfoRejection.IdMismatch,
                $"authenticated as {authenticatedId} but node info says {remote.DefaultNodeId}");
        if (remote.DefaultNodeId == local.DefaultNodeId)
            throw new NodeInfoRejectedException(NodeInfoRejection.SelfConnection, "connected to ourselves");
        local.CheckCompatibleWith(remote);
    }

    internal Wire.DefaultNodeInfo ToProto() => new()
    {
        // Go always writes protocol_version and other, even when empty.
        ProtocolVersion = new Wire.ProtocolVersion { P2P = ProtocolVersion.P2P, Block = ProtocolVersion.Block, App = ProtocolVersion.App },
        DefaultNodeId = DefaultNodeId,
        ListenAddr = ListenAddr,
        Network = Network,
        Version = Version,
        Channels = ByteString.CopyFrom(Channels.AsSpan()),
        Moniker = Moniker,
        Other = new Wire.DefaultNodeInfoOther { TxIndex = TxIndex, RpcAddress = RpcAddress },
    };

    internal static NodeInfo FromProto(Wire.DefaultNodeInfo proto) => new()
    {
        ProtocolVersion = proto.ProtocolVersion is { } v ? new ProtocolVersion(v.P2P, v.Block, v.App) : new ProtocolVersion(0, 0, 0),
        DefaultNodeId = proto.DefaultNodeId,
        ListenAddr = proto.ListenAddr,
        Network = proto.Network,
        Version = proto.Version,
        Channels = [.. proto.Channels.Span],
        Moniker = proto.Moniker,
        TxIndex = proto.Other?.TxIndex ?? "",
        RpcAddress = proto.Other?.RpcAddress ?? "",
    };

    private static string StripProtocol(string address)
    {
        var i = address.IndexOf("://", StringComparison.Ordinal);
        return i >= 0 ? address[(i + 3)..] : address;
    }

    private static bool IsAsciiText(string s)
    {
        if (s.Length == 0) return false;
        foreach (var c in s)
            if (c is < (char)32 or > (char)126)
                return false;
        return true;
    }

    private static string Hex(ImmutableArray<byte> channels) => string.Join(",", channels.Select(c => $"0x{c:x2}"));

    private static void Invalid(string detail) => throw new NodeInfoRejectedException(NodeInfoRejection.Invalid, detail);
}
