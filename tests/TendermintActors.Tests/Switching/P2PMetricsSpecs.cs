using System.Diagnostics.Metrics;
using TendermintActors.Metrics;

namespace TendermintActors.Tests.Switching;

/// <summary>The label values against the strings CometBFT prints (p2p/peer.go, p2p/metrics.go).</summary>
public sealed class P2PMetricsSpecs
{
    [Theory]
    [InlineData(0x00, "0x0")]   // Go's %#x: no zero padding
    [InlineData(0x05, "0x5")]
    [InlineData(0x20, "0x20")]
    [InlineData(0x40, "0x40")]
    [InlineData(0xff, "0xff")]
    public void ChID_is_formatted_as_go_prints_a_byte_with_hash_x(byte channel, string expected) =>
        Assert.Equal(expected, P2PMetrics.ChannelLabels[channel]);

    [Theory]
    [InlineData(0x00, "0a00", "p2p_PexRequest")]            // Message{pex_request: {}}
    [InlineData(0x00, "12080a0461626364", "p2p_PexAddrs")] // Message{pex_addrs: {...}}
    [InlineData(0x00, "", "p2p_Message")]                  // no field: the envelope's own type
    [InlineData(0x20, "0a00", "consensus_NewRoundStep")]
    [InlineData(0x22, "3200", "consensus_Vote")]             // field 6
    [InlineData(0x21, "2a00", "consensus_BlockPart")]        // field 5
    [InlineData(0x30, "0a00", "mempool_Txs")]
    [InlineData(0x38, "0a00", "types_EvidenceList")]
    [InlineData(0x40, "1a00", "blocksync_BlockResponse")]
    [InlineData(0x61, "2200", "statesync_ChunkResponse")]
    public void Standard_channels_name_messages_as_go_labels_their_types(byte channel, string hex, string expected) =>
        Assert.Equal(expected, MessageTypeNames.Standard[channel](Convert.FromHexString(hex)));

    [Fact]
    public void A_multi_byte_tag_is_read_as_a_varint() =>
        Assert.Equal("x_Big", MessageTypeNames.ByEnvelopeField("x", new Dictionary<int, string> { [20] = "Big" })(Convert.FromHexString("a20100")));

    [Fact]
    public void Peer_metrics_label_pex_bytes_by_message_type_and_user_channels_by_their_namer_or_channel()
    {
        var chainId = $"labels-{Guid.NewGuid():N}";
        var seen = new List<(string Name, long Value, Dictionary<string, object?> Tags)>();
        using var listener = Listen(chainId, seen);
        using var metrics = new P2PMetrics(chainId, messageTypes: new Dictionary<byte, MessageTypeName>
        {
            [0x42] = MessageTypeNames.Fixed("chat_Line"),
        });
        var peer = metrics.ForPeer(new string('a', 40));

        var request = Convert.FromHexString("0a00");
        peer.Queued(0x00, request);
        peer.Sent(0x00, request.Length);
        var addrs = Convert.FromHexString("12080a0461626364");
        peer.Receiving(0x00, addrs);
        peer.Received(0x00, addrs.Length);
        peer.Receiving(0x42, new byte[7]);
        peer.Received(0x42, 7);
        peer.Receiving(0x43, new byte[5]);
        peer.Receiving(0x43, new byte[6]);
        peer.Received(0x43, 11); // a batch of the run: counted once

        Assert.Equal([("cometbft_p2p_message_send_bytes", 2L, "p2p_PexRequest")], MessageTypes(seen, "cometbft_p2p_message_send_bytes"));
        Assert.Equal([("cometbft_p2p_message_receive_bytes", 8L, "p2p_PexAddrs"), ("cometbft_p2p_message_receive_bytes", 7L, "chat_Line"),
                ("cometbft_p2p_message_receive_bytes", 11L, "channel_0x43")],
            MessageTypes(seen, "cometbft_p2p_message_receive_bytes"));
        Assert.Equal(["0x0", "0x42", "0x43"], seen.Where(m => m.Name == "cometbft_p2p_peer_receive_bytes").Select(m => (string)m.Tags["chID"]!));
        Assert.Equal("0x0", seen.Single(m => m.Name == "cometbft_p2p_peer_send_bytes").Tags["chID"]);
    }

    [Fact]
    public void A_peer_keeps_label_sets_only_for_the_channels_it_uses_and_shares_message_type_labels_with_other_peers()
    {
        // A meter of its own name: no listener of another test enables these instruments, so recording allocates
        // nothing but the label sets themselves.
        using var factory = new RenamingMeterFactory($"alloc-{Guid.NewGuid():N}");
        using var metrics = new P2PMetrics("alloc", meterFactory: factory);
        var request = Convert.FromHexString("0a00");
        var first = metrics.ForPeer(new string('a', 40));
        first.Queued(0x00, request);
        first.Sent(0x00, request.Length);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var peer = metrics.ForPeer(new string('b', 40));
        peer.Queued(0x00, request);      // p2p_PexRequest: the first peer's label set
        peer.Sent(0x00, request.Length);  // chID 0x0: this peer's own
        peer.Received(0x42, 7);           // chID 0x42: another
        peer.Received(0x42, 7);
        peer.PendingSend(7);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Two label sets of three, the pending-bytes set, the peer itself and its channel list: about 0.5 KiB
        // (a table indexed by channel ID would be 2 KiB by itself).
        Assert.InRange(allocated, 1, 768);
    }

    private sealed class RenamingMeterFactory(string name) : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(name);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose() => _meters.ForEach(m => m.Dispose());
    }

    private static IEnumerable<(string, long, string)> MessageTypes(List<(string Name, long Value, Dictionary<string, object?> Tags)> seen, string name) =>
        seen.Where(m => m.Name == name).Select(m => (m.Name, m.Value, (string)m.Tags["message_type"]!));

    private static MeterListener Listen(string chainId, List<(string, long, Dictionary<string, object?>)> seen)
    {
        var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == P2PMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var dict = new Dictionary<string, object?>();
            foreach (var tag in tags) dict[tag.Key] = tag.Value;
            if (Equals(dict.GetValueOrDefault("chain_id"), chainId))
                lock (seen) seen.Add((instrument.Name, value, dict));
        });
        listener.Start();
        return listener;
    }
}
