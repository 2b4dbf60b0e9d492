using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TendermintActors.Metrics;

/// <summary>
/// The p2p instruments of a node, with CometBFT's names and labels so existing dashboards work once exported
/// (a Prometheus exporter appends <c>_total</c> to counters): <c>{ns}_p2p_peers</c>,
/// <c>{ns}_p2p_peer_receive_bytes_total{peer_id,chID}</c>, <c>{ns}_p2p_peer_send_bytes_total{peer_id,chID}</c>,
/// <c>{ns}_p2p_peer_pending_send_bytes{peer_id}</c>, <c>{ns}_p2p_message_receive_bytes_total{message_type}</c>,
/// <c>{ns}_p2p_message_send_bytes_total{message_type}</c>, each with a <c>chain_id</c> label; and one of ours that
/// CometBFT lacks, <c>{ns}_p2p_peer_stops_total{reason,error,was_peer}</c>: every ended connection by its stable reason
/// code (<c>protocol/unknown-channel</c>, <c>pex/request-too-soon</c>, <c>closed</c>, ...). Everything is
/// recorded by the actor that owns the number (counters and up-down counters, no shared gauges), so no state is
/// read across threads. With per-peer labels off, <c>peer_id</c> is dropped (its cardinality is a known complaint).
/// </summary>
public sealed class P2PMetrics : IDisposable
{
    public const string MeterName = "TendermintActors.P2P";

    private readonly Meter _meter;
    private readonly UpDownCounter<long> _peers;
    private readonly Counter<long> _peerReceiveBytes;
    private readonly Counter<long> _peerSendBytes;
    private readonly UpDownCounter<long> _peerPendingSendBytes;
    private readonly Counter<long> _messageReceiveBytes;
    private readonly Counter<long> _messageSendBytes;
    private readonly Counter<long> _peerStops;
    private readonly KeyValuePair<string, object?> _chainId;

    public P2PMetrics(string chainId, string @namespace = "cometbft", bool perPeerLabels = true, IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        var prefix = string.IsNullOrEmpty(@namespace) ? "p2p_" : @namespace + "_p2p_";
        PerPeerLabels = perPeerLabels;
        _chainId = new("chain_id", chainId);
        _peers = _meter.CreateUpDownCounter<long>(prefix + "peers", description: "Number of peers.");
        _peerReceiveBytes = _meter.CreateCounter<long>(prefix + "peer_receive_bytes", description: "Number of bytes received from a given peer.");
        _peerSendBytes = _meter.CreateCounter<long>(prefix + "peer_send_bytes", description: "Number of bytes sent to a given peer.");
        _peerPendingSendBytes = _meter.CreateUpDownCounter<long>(prefix + "peer_pending_send_bytes", description: "Pending bytes to be sent to a given peer.");
        _messageReceiveBytes = _meter.CreateCounter<long>(prefix + "message_receive_bytes", description: "Number of bytes of each message type received.");
        _messageSendBytes = _meter.CreateCounter<long>(prefix + "message_send_bytes", description: "Number of bytes of each message type sent.");
        _peerStops = _meter.CreateCounter<long>(prefix + "peer_stops", description: "Number of connections ended, by reason (including those that never became peers).");
    }

    public bool PerPeerLabels { get; }

    public void PeerAdded() => _peers.Add(1, _chainId);

    public void PeerRemoved() => _peers.Add(-1, _chainId);

    public void Received(string peerId, byte channel, int bytes)
    {
        _peerReceiveBytes.Add(bytes, PeerChannel(peerId, channel));
        _messageReceiveBytes.Add(bytes, _chainId, new("message_type", MessageType(channel)));
    }

    public void Sent(string peerId, byte channel, int bytes)
    {
        _peerSendBytes.Add(bytes, PeerChannel(peerId, channel));
        _messageSendBytes.Add(bytes, _chainId, new("message_type", MessageType(channel)));
    }

    /// <summary>A connection ended: its reason code, whether that was an error, and whether it had become a peer.</summary>
    public void ConnectionEnded(string reasonCode, bool isError, bool wasPeer) =>
        _peerStops.Add(1, _chainId, new("reason", reasonCode), new("error", isError ? "true" : "false"), new("was_peer", wasPeer ? "true" : "false"));

    /// <summary>Bytes queued for a peer (+) or written (−).</summary>
    public void PendingSend(string peerId, long delta)
    {
        if (PerPeerLabels)
            _peerPendingSendBytes.Add(delta, _chainId, new("peer_id", peerId));
        else
            _peerPendingSendBytes.Add(delta, _chainId);
    }

    private TagList PeerChannel(string peerId, byte channel)
    {
        var tags = new TagList { _chainId, { "chID", $"0x{channel:x2}" } };
        if (PerPeerLabels) tags.Add("peer_id", peerId);
        return tags;
    }

    /// <summary>
    /// Go labels by the protobuf message type; our channels carry opaque bytes, so the channel stands in for it
    /// (CometBFT's standard channels get their reactor's name).
    /// </summary>
    private static string MessageType(byte channel) => channel switch
    {
        0x00 => "pex",
        0x20 => "consensus_state",
        0x21 => "consensus_data",
        0x22 => "consensus_vote",
        0x23 => "consensus_vote_set_bits",
        0x30 => "mempool",
        0x38 => "evidence",
        0x40 => "blocksync",
        0x60 => "statesync_snapshot",
        0x61 => "statesync_chunk",
        _ => $"channel_0x{channel:x2}",
    };

    public void Dispose() => _meter.Dispose();
}
