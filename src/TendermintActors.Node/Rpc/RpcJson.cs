using System.Globalization;
using System.Text.Json.Nodes;
using TendermintActors.Peers;
using TendermintActors.Streams;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Node.Rpc;

/// <summary>
/// CometBFT's RPC responses in its own JSON shape (its amino-compatible encoder): 64-bit integers, and Go's
/// <c>int</c>, as strings; byte slices of type HexBytes as upper-case hex; times as RFC 3339 with nanoseconds.
/// Pure functions of what the switch and peers report, so the shape is testable without a server.
/// </summary>
internal static class RpcJson
{
    /// <summary>The id CometBFT answers plain GET (URI) requests with.</summary>
    public const int UriRequestId = -1;

    // JSON-RPC 2.0 error codes, as CometBFT's rpc/jsonrpc/types uses them.
    public const int ParseError = -32700;
    public const int InvalidRequest = -32600;
    public const int MethodNotFound = -32601;
    public const int InvalidParams = -32602;
    public const int InternalError = -32603;

    /// <summary>Go's zero <c>time.Time</c>, which is what a node without blocks reports.</summary>
    private const string GoZeroTime = "0001-01-01T00:00:00Z";

    public static JsonObject Result(JsonNode? id, JsonNode result) => new()
    {
        ["jsonrpc"] = "2.0",
        ["id"] = id?.DeepClone(),
        ["result"] = result,
    };

    public static JsonObject Error(JsonNode? id, int code, string message, string data) => new()
    {
        ["jsonrpc"] = "2.0",
        ["id"] = id?.DeepClone(),
        ["error"] = new JsonObject { ["code"] = code, ["message"] = message, ["data"] = data },
    };

    /// <summary>DefaultNodeInfo as CometBFT's JSON. <paramref name="rpcAddress"/> overrides the handshake's
    /// (empty) one for our own node, whose RPC address is known only once the server is bound.</summary>
    public static JsonObject NodeInfo(NodeInfoModel info, string? rpcAddress = null) => new()
    {
        ["protocol_version"] = new JsonObject
        {
            ["p2p"] = Int(info.ProtocolVersion.P2P),
            ["block"] = Int(info.ProtocolVersion.Block),
            ["app"] = Int(info.ProtocolVersion.App),
        },
        ["id"] = info.DefaultNodeId,
        ["listen_addr"] = info.ListenAddr,
        ["network"] = info.Network,
        ["version"] = info.Version,
        ["channels"] = Convert.ToHexString(info.Channels.AsSpan()),
        ["moniker"] = info.Moniker,
        ["other"] = new JsonObject
        {
            ["tx_index"] = info.TxIndex,
            ["rpc_address"] = rpcAddress ?? info.RpcAddress,
        },
    };

    /// <summary>ResultStatus. We have no chain and no validator, so sync_info and validator_info carry Go's zero
    /// values, which is what tools see from a node that has not produced or synced a block.</summary>
    public static JsonObject Status(NodeInfoModel info, string rpcAddress) => new()
    {
        ["node_info"] = NodeInfo(info, rpcAddress),
        ["sync_info"] = new JsonObject
        {
            ["latest_block_hash"] = "",
            ["latest_app_hash"] = "",
            ["latest_block_height"] = "0",
            ["latest_block_time"] = GoZeroTime,
            ["earliest_block_hash"] = "",
            ["earliest_app_hash"] = "",
            ["earliest_block_height"] = "0",
            ["earliest_block_time"] = GoZeroTime,
            ["catching_up"] = false,
        },
        ["validator_info"] = new JsonObject
        {
            ["address"] = "",
            ["pub_key"] = null,
            ["voting_power"] = "0",
        },
    };

    /// <summary>ResultNetInfo; <paramref name="listener"/> is the p2p listen address as host:port.</summary>
    public static JsonObject NetInfo(string listener, IReadOnlyList<Peer.Status> peers, DateTimeOffset now)
    {
        var array = new JsonArray();
        foreach (var peer in peers)
            array.Add((JsonNode)PeerJson(peer, now)); // JsonArray.Add<T> serialises by reflection; a node is added as it is
        return new JsonObject
        {
            ["listening"] = true,
            ["listeners"] = new JsonArray($"Listener(@{listener})"),
            ["n_peers"] = Int(peers.Count),
            ["peers"] = array,
        };
    }

    private static JsonObject PeerJson(Peer.Status status, DateTimeOffset now) => new()
    {
        ["node_info"] = NodeInfo(status.Peer.NodeInfo),
        ["is_outbound"] = status.Peer.IsOutbound,
        ["connection_status"] = ConnectionStatus(status.Duration, status.Connection, now),
        ["remote_ip"] = status.Peer.RemoteIp?.ToString() ?? "",
    };

    /// <summary>Go's p2p/conn ConnectionStatus: its flowrate monitors are filled from our totals and last-interval
    /// rates (we keep no samples, peak or idle time, so those read as a monitor that has them at zero).</summary>
    public static JsonObject ConnectionStatus(TimeSpan duration, MConnection.ConnectionStatus connection, DateTimeOffset now)
    {
        var channels = new JsonArray();
        foreach (var ch in connection.Channels)
            channels.Add((JsonNode)new JsonObject
            {
                ["ID"] = ch.Id,
                ["SendQueueCapacity"] = Int(ch.SendQueueCapacity),
                ["SendQueueSize"] = Int(ch.SendQueueSize),
                ["Priority"] = Int(ch.Priority),
                ["RecentlySent"] = Int(ch.RecentlySent),
            });
        var start = now - duration;
        return new JsonObject
        {
            ["Duration"] = Nanoseconds(duration),
            ["SendMonitor"] = Monitor(start, duration, connection.BytesSent, connection.SendRate),
            ["RecvMonitor"] = Monitor(start, duration, connection.BytesReceived, connection.RecvRate),
            ["Channels"] = channels,
        };
    }

    /// <summary>flowrate.Status.</summary>
    private static JsonObject Monitor(DateTimeOffset start, TimeSpan duration, long bytes, long rate)
    {
        var average = duration.TotalSeconds > 0 ? (long)Math.Round(bytes / duration.TotalSeconds) : 0;
        return new JsonObject
        {
            ["Start"] = Rfc3339(start),
            ["Bytes"] = Int(bytes),
            ["Samples"] = "0",
            ["InstRate"] = Int(rate),
            ["CurRate"] = Int(rate),
            ["AvgRate"] = Int(average),
            ["PeakRate"] = Int(Math.Max(rate, average)),
            ["BytesRem"] = "0",
            ["Duration"] = Nanoseconds(duration),
            ["Idle"] = "0",
            ["TimeRem"] = "0",
            ["Progress"] = 0,
            ["Active"] = true,
        };
    }

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Int(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A Go time.Duration: an int64 of nanoseconds.</summary>
    private static string Nanoseconds(TimeSpan duration) => Int(duration.Ticks * TimeSpan.NanosecondsPerTick);

    /// <summary>Go's RFC3339Nano: UTC, trailing zeros of the fraction dropped.</summary>
    private static string Rfc3339(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        var fraction = (utc.Ticks % TimeSpan.TicksPerSecond * TimeSpan.NanosecondsPerTick).ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0');
        return utc.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + (fraction.Length > 0 ? "." + fraction : "") + "Z";
    }
}
