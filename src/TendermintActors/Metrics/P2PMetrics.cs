using System.Collections.Frozen;
using System.Diagnostics.Metrics;

namespace TendermintActors.Metrics;

/// <summary>
/// The p2p instruments of a node, with CometBFT's names and labels so existing dashboards work once exported
/// (a Prometheus exporter appends <c>_total</c> to counters): <c>{ns}_p2p_peers</c>,
/// <c>{ns}_p2p_peer_receive_bytes_total{peer_id,chID}</c>, <c>{ns}_p2p_peer_send_bytes_total{peer_id,chID}</c>,
/// <c>{ns}_p2p_peer_pending_send_bytes{peer_id}</c>, <c>{ns}_p2p_message_receive_bytes_total{message_type}</c>,
/// <c>{ns}_p2p_message_send_bytes_total{message_type}</c>, each with a <c>chain_id</c> label; and one of ours that
/// CometBFT lacks, <c>{ns}_p2p_peer_stops_total{reason,error,was_peer}</c>: every ended connection by its stable reason
/// code (<c>protocol/unknown-channel</c>, <c>pex/request-too-soon</c>, <c>closed</c>, ...). Label values are
/// CometBFT's: <c>chID</c> as Go's <c>%#x</c> (<c>0x0</c>, <c>0x40</c>), <c>message_type</c> as Go's type label
/// (<c>p2p_PexRequest</c>; see <see cref="MessageTypeNames"/>), user channels named by the namers given here. Everything is
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
    private readonly UpDownCounter<long> _bufferedBytes;
    private readonly UpDownCounter<long> _maxBufferedBytes;
    private readonly Counter<long> _bufferBudgetPauses;
    private readonly KeyValuePair<string, object?> _chainId;
    private readonly KeyValuePair<string, object?>[] _chainIdTags;
    private readonly KeyValuePair<string, object?>[][] _messageTypeTags; // per channel: chain_id, message_type
    private readonly KeyValuePair<string, object?>[][]? _channelTags;   // per channel: chain_id, chID (per-peer labels off)
    // Named message types' label sets (chain_id, message_type), shared by every peer. Each published dictionary is
    // never changed again: a peer that meets a new name publishes a copy with it (compare-and-swap, no lock).
    private FrozenDictionary<string, KeyValuePair<string, object?>[]> _namedTags = FrozenDictionary<string, KeyValuePair<string, object?>[]>.Empty;

    public P2PMetrics(string chainId, string @namespace = "cometbft", bool perPeerLabels = true, IMeterFactory? meterFactory = null,
        IReadOnlyDictionary<byte, MessageTypeName>? messageTypes = null)
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
        _bufferedBytes = _meter.CreateUpDownCounter<long>(prefix + "buffered_bytes", description: "Bytes held for all peers: unfinished received messages, unsent messages and handshakes in progress (estimated).");
        _maxBufferedBytes = _meter.CreateUpDownCounter<long>(prefix + "max_buffered_bytes", description: "The node's buffer budget (max-buffered-bytes).");
        _bufferBudgetPauses = _meter.CreateCounter<long>(prefix + "buffer_budget_pauses", description: "Number of times a peer's reads were paused because the buffer budget was exceeded.");
        _namers = new MessageTypeName?[256];
        foreach (var (channel, namer) in MessageTypeNames.Standard)
            _namers[channel] = namer;
        if (messageTypes is not null)
            foreach (var (channel, namer) in messageTypes)
                _namers[channel] = namer;
        _chainIdTags = [_chainId];
        _messageTypeTags = Enumerable.Range(0, 256)
            .Select(c => new KeyValuePair<string, object?>[] { _chainId, new("message_type", MessageTypeNames.Unnamed((byte)c)) }).ToArray();
        if (!perPeerLabels)
            _channelTags = Enumerable.Range(0, 256)
                .Select(c => new KeyValuePair<string, object?>[] { _chainId, new("chID", ChannelLabels[c]) }).ToArray();
    }

    private readonly MessageTypeName?[] _namers; // per channel; null: every message counts as the channel's fixed name

    public bool PerPeerLabels { get; }

    public void PeerAdded() => _peers.Add(1, _chainId);

    public void PeerRemoved() => _peers.Add(-1, _chainId);

    /// <summary>The node's buffer budget in bytes; recorded once by the switch that keeps it.</summary>
    public void BufferBudget(long maxBytes) => _maxBufferedBytes.Add(maxBytes, _chainId);

    /// <summary>Bytes held for all peers grew (+) or shrank (−).</summary>
    public void BufferedBytesChanged(long delta) => _bufferedBytes.Add(delta, _chainId);

    /// <summary><paramref name="count"/> peers were paused because the buffer budget was exceeded.</summary>
    public void BufferBudgetPaused(int count) => _bufferBudgetPauses.Add(count, _chainId);

    /// <summary>One peer's instruments with every label set built once, for the peer's actor to record per batch.</summary>
    public PeerMetrics ForPeer(string peerId) => new(this, peerId);

    /// <summary>A connection ended: its reason code, whether that was an error, and whether it had become a peer.</summary>
    public void ConnectionEnded(string reasonCode, bool isError, bool wasPeer) =>
        _peerStops.Add(1, _chainId, new("reason", reasonCode), new("error", isError ? "true" : "false"), new("was_peer", wasPeer ? "true" : "false"));

    /// <summary>
    /// The instruments of one peer. Label sets are arrays built once (per channel on first use), so recording costs
    /// the exporter's lookup and nothing else; it belongs to the peer's actor (not thread-safe). A node holds one per
    /// peer for the peer's life, so it keeps only what is the peer's own: the label sets that carry its ID, for the
    /// few channels it uses (label sets without the peer's ID are the node's, shared by all its peers).
    /// </summary>
    public sealed class PeerMetrics
    {
        private readonly P2PMetrics _metrics;
        private readonly string _peerId;
        private readonly KeyValuePair<string, object?>[] _pendingTags;
        // The channels this peer has used and their label sets (chain_id, chID, peer_id), in first-use order: a peer
        // uses a handful of channels, so a short scan beats a 256-entry table on every idle peer.
        private byte[] _channels = [];
        private KeyValuePair<string, object?>[][] _channelTags = [];

        internal PeerMetrics(P2PMetrics metrics, string peerId)
        {
            _metrics = metrics;
            _peerId = peerId;
            _pendingTags = metrics.PerPeerLabels ? [metrics._chainId, new("peer_id", peerId)] : metrics._chainIdTags;
        }

        /// <summary>
        /// One message received on <paramref name="channel"/>, before it goes to its reactor: counted at once by its
        /// type when the channel names its messages; otherwise left to <see cref="Received"/>.
        /// </summary>
        public void Receiving(byte channel, ReadOnlySpan<byte> message) => CountNamed(_metrics._messageReceiveBytes, channel, message);

        /// <summary><paramref name="bytes"/> received on <paramref name="channel"/> (one message or a batch's sum).</summary>
        public void Received(byte channel, long bytes)
        {
            _metrics._peerReceiveBytes.Add(bytes, ChannelTags(channel));
            if (_metrics._namers[channel] is null)
                _metrics._messageReceiveBytes.Add(bytes, _metrics._messageTypeTags[channel]);
        }

        /// <summary>
        /// One message accepted into <paramref name="channel"/>'s send queue: counted at once by its type when the
        /// channel names its messages (Go counts a message when Send accepts it); otherwise left to <see cref="Sent"/>.
        /// </summary>
        public void Queued(byte channel, ReadOnlySpan<byte> message) => CountNamed(_metrics._messageSendBytes, channel, message);

        /// <summary><paramref name="bytes"/> written on <paramref name="channel"/> (one message or a batch's sum).</summary>
        public void Sent(byte channel, long bytes)
        {
            _metrics._peerSendBytes.Add(bytes, ChannelTags(channel));
            if (_metrics._namers[channel] is null)
                _metrics._messageSendBytes.Add(bytes, _metrics._messageTypeTags[channel]);
        }

        private void CountNamed(Counter<long> counter, byte channel, ReadOnlySpan<byte> message)
        {
            if (_metrics._namers[channel] is not { } namer)
                return;
            counter.Add(message.Length, _metrics.NamedTags(namer(message)));
        }

        /// <summary>Bytes queued for the peer (+) or written (−).</summary>
        public void PendingSend(long delta) => _metrics._peerPendingSendBytes.Add(delta, _pendingTags);

        private ReadOnlySpan<KeyValuePair<string, object?>> ChannelTags(byte channel)
        {
            if (_metrics._channelTags is { } shared)
                return shared[channel];
            var at = _channels.AsSpan().IndexOf(channel);
            if (at >= 0)
                return _channelTags[at];
            KeyValuePair<string, object?>[] tags = [_metrics._chainId, new("chID", ChannelLabels[channel]), new("peer_id", _peerId)];
            _channels = [.. _channels, channel];
            _channelTags = [.. _channelTags, tags];
            return tags;
        }
    }

    private KeyValuePair<string, object?>[] NamedTags(string name)
    {
        while (true)
        {
            var known = Volatile.Read(ref _namedTags);
            if (known.TryGetValue(name, out var tags))
                return tags;
            tags = [_chainId, new("message_type", name)];
            var more = new Dictionary<string, KeyValuePair<string, object?>[]>(known, StringComparer.Ordinal) { [name] = tags }
                .ToFrozenDictionary(StringComparer.Ordinal);
            if (Interlocked.CompareExchange(ref _namedTags, more, known) == known)
                return tags;
        }
    }

    /// <summary>CometBFT's chID label values: Go's <c>fmt.Sprintf("%#x", chID)</c>, so "0x0", "0x20", "0x40", "0xff".</summary>
    internal static readonly string[] ChannelLabels = Enumerable.Range(0, 256).Select(c => $"0x{c:x}").ToArray();

    public void Dispose() => _meter.Dispose();
}
