namespace TendermintActors.Metrics;

/// <summary>
/// Names one message of a channel for the <c>message_type</c> label, from its bytes as they travel (the reactor's
/// protobuf message, before any decoding). Runs on the peer's actor for every message of its channel: keep it cheap,
/// and return few distinct names (each is a time series).
/// </summary>
public delegate string MessageTypeName(ReadOnlySpan<byte> message);

/// <summary>
/// The <c>message_type</c> label values CometBFT prints. Go labels a message by its Go type, <c>%T</c> without the
/// <c>*</c> and with <c>_</c> for the dot (p2p/metrics.go's <c>ValueToMetricLabel</c>), after unwrapping a channel's
/// envelope: <c>p2p_PexRequest</c>, <c>p2p_PexAddrs</c>, <c>consensus_Vote</c>, <c>blocksync_BlockResponse</c>, ...
/// An envelope is a protobuf <c>oneof</c>, so its one field's number tells the type.
/// </summary>
public static class MessageTypeNames
{
    /// <summary>
    /// Names by the envelope's field number: <c>{goPackage}_{type}</c>, or <c>{goPackage}_Message</c> (the envelope's
    /// own type) for a message whose first field is not listed, or that is empty or malformed.
    /// </summary>
    public static MessageTypeName ByEnvelopeField(string goPackage, IReadOnlyDictionary<int, string> typesByField)
    {
        var names = new Dictionary<int, string>();
        foreach (var (field, type) in typesByField)
            names[field] = $"{goPackage}_{type}";
        var fallback = $"{goPackage}_Message";
        return message => FirstField(message) is { } field && names.TryGetValue(field, out var name) ? name : fallback;
    }

    /// <summary>Every message of the channel under one name (a channel that carries one message type, unwrapped).</summary>
    public static MessageTypeName Fixed(string name) => _ => name;

    /// <summary>
    /// A channel that has no namer: every message is counted as <c>channel_{chID}</c>, chID as CometBFT prints it
    /// (<c>channel_0x42</c>), batched with the channel's byte counters.
    /// </summary>
    public static string Unnamed(byte channel) => "channel_" + P2PMetrics.ChannelLabels[channel];

    /// <summary>The channels of a CometBFT node (docs/protocol.md §5) with their envelopes' message types (CometBFT v0.38 protos).</summary>
    public static IReadOnlyDictionary<byte, MessageTypeName> Standard { get; } = BuildStandard();

    private static Dictionary<byte, MessageTypeName> BuildStandard()
    {
        var pex = ByEnvelopeField("p2p", new Dictionary<int, string> { [1] = "PexRequest", [2] = "PexAddrs" });
        var consensus = ByEnvelopeField("consensus", new Dictionary<int, string>
        {
            [1] = "NewRoundStep", [2] = "NewValidBlock", [3] = "Proposal", [4] = "ProposalPOL", [5] = "BlockPart",
            [6] = "Vote", [7] = "HasVote", [8] = "VoteSetMaj23", [9] = "VoteSetBits", [10] = "HasProposalBlockPart",
        });
        var mempool = ByEnvelopeField("mempool", new Dictionary<int, string> { [1] = "Txs" });
        var blocksync = ByEnvelopeField("blocksync", new Dictionary<int, string>
        {
            [1] = "BlockRequest", [2] = "NoBlockResponse", [3] = "BlockResponse", [4] = "StatusRequest", [5] = "StatusResponse",
        });
        var statesync = ByEnvelopeField("statesync", new Dictionary<int, string>
        {
            [1] = "SnapshotsRequest", [2] = "SnapshotsResponse", [3] = "ChunkRequest", [4] = "ChunkResponse",
        });
        return new Dictionary<byte, MessageTypeName>
        {
            [0x00] = pex,
            [0x20] = consensus, [0x21] = consensus, [0x22] = consensus, [0x23] = consensus,
            [0x30] = mempool,
            [0x38] = Fixed("types_EvidenceList"), // the evidence channel carries a tendermint.types.EvidenceList, unwrapped
            [0x40] = blocksync,
            [0x60] = statesync, [0x61] = statesync,
        };
    }

    /// <summary>The field number of the message's first tag (a protobuf varint), or null when there is none.</summary>
    internal static int? FirstField(ReadOnlySpan<byte> message)
    {
        ulong tag = 0;
        for (var i = 0; i < message.Length && i < 5; i++)
        {
            tag |= (ulong)(message[i] & 0x7f) << (7 * i);
            if ((message[i] & 0x80) == 0)
                return tag >> 3 is > 0 and <= int.MaxValue ? (int)(tag >> 3) : null;
        }
        return null;
    }
}
