namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// One multiplexed channel of an MConnection, as a reactor declares it (Go's <c>conn.ChannelDescriptor</c>,
/// docs/protocol.md §5). Only <see cref="Id"/> is seen by the remote (in the node info); the rest are local choices.
/// </summary>
/// <param name="Id">The channel's byte on the wire.</param>
/// <param name="Priority">Share of the send bandwidth relative to the other channels; must be positive.</param>
public sealed record ChannelDescriptor(byte Id, int Priority)
{
    public const int DefaultSendQueueCapacity = 1;
    public const int DefaultRecvBufferCapacity = 4096;
    public const int DefaultRecvMessageCapacity = 22020096;

    /// <summary>Whole messages that may wait behind the one being sent (Go's send channel capacity).</summary>
    public int SendQueueCapacity { get; init; } = DefaultSendQueueCapacity;

    /// <summary>
    /// The send queue's one rule: a channel holding <paramref name="unsent"/> messages (those waiting and the one
    /// being written) takes another while at most <see cref="SendQueueCapacity"/> of them would wait, as in Go; so
    /// it holds at most capacity + 1. Compared without adding 1, so that <see cref="int.MaxValue"/> does not overflow.
    /// </summary>
    public bool HasSendRoom(int unsent) => unsent <= SendQueueCapacity;

    /// <summary>The least <see cref="MaxWaitingSends"/>: room for a reactor's burst on a channel with Go's queue of one.</summary>
    public const int WaitingSendsFloor = 100;

    /// <summary>
    /// The most sends that may wait for room in a full queue (<c>Peer.Send</c>, and broadcasts), per peer: the queue's
    /// capacity again, but at least <see cref="WaitingSendsFloor"/>. Beyond that a send is refused at once, so a
    /// reactor that sends faster than the peer takes cannot grow a buffer without bound.
    /// </summary>
    public int MaxWaitingSends => Math.Max(SendQueueCapacity, WaitingSendsFloor);

    /// <summary>Whether another send may wait for room while <paramref name="waiting"/> do (see <see cref="MaxWaitingSends"/>).</summary>
    public bool HasRoomToWait(int waiting) => waiting < MaxWaitingSends;

    /// <summary>
    /// The most messages of this channel delivered to the reactor and not yet acknowledged before the connection stops
    /// reading (the runtime also bounds their bytes: <c>recv-window</c>). Go's field of the same name and default is the
    /// reassembly buffer's initial size in bytes; a value carried over from a Go reactor is safe here, as a count.
    /// </summary>
    public int RecvBufferCapacity { get; init; } = DefaultRecvBufferCapacity;

    /// <summary>Largest reassembled message accepted; a remote that exceeds it is disconnected.</summary>
    public int RecvMessageCapacity { get; init; } = DefaultRecvMessageCapacity;

    /// <summary>Throws <see cref="ArgumentException"/> naming the channel and the field when a value is out of range.</summary>
    public void Validate()
    {
        if (Priority <= 0)
            throw new ArgumentException($"channel 0x{Id:x2}: Priority must be positive, got {Priority}");
        if (SendQueueCapacity <= 0)
            throw new ArgumentException($"channel 0x{Id:x2}: SendQueueCapacity must be positive, got {SendQueueCapacity}");
        if (RecvBufferCapacity <= 0)
            throw new ArgumentException($"channel 0x{Id:x2}: RecvBufferCapacity must be positive, got {RecvBufferCapacity}");
        if (RecvMessageCapacity <= 0)
            throw new ArgumentException($"channel 0x{Id:x2}: RecvMessageCapacity must be positive, got {RecvMessageCapacity}");
    }

    /// <summary>Validates each descriptor and rejects a set that declares one ID twice.</summary>
    public static void ValidateSet(IEnumerable<ChannelDescriptor> channels)
    {
        ArgumentNullException.ThrowIfNull(channels);
        Span<bool> seen = stackalloc bool[256];
        foreach (var channel in channels)
        {
            if (channel is null)
                throw new ArgumentException("a channel descriptor is null");
            channel.Validate();
            if (seen[channel.Id])
                throw new ArgumentException($"channel 0x{channel.Id:x2} is declared twice");
            seen[channel.Id] = true;
        }
    }
}

/// <summary>
/// The channel IDs a CometBFT node uses (docs/protocol.md §5), so that reactors written against this library
/// interoperate with Go nodes. Priorities and send queues are those of §5; the Go reactors also set their own
/// receive capacities (e.g. 1 MiB for consensus), which a reactor reimplementing them should set with <c>with</c>.
/// </summary>
public static class StandardChannels
{
    /// <summary>The raw IDs, usable as <c>case</c> labels.</summary>
    public static class Ids
    {
        public const byte Pex = 0x00;
        public const byte ConsensusState = 0x20;
        public const byte ConsensusData = 0x21;
        public const byte ConsensusVote = 0x22;
        public const byte ConsensusVoteSetBits = 0x23;
        public const byte Mempool = 0x30;
        public const byte Evidence = 0x38;
        public const byte BlockSync = 0x40;
        public const byte StateSyncSnapshot = 0x60;
        public const byte StateSyncChunk = 0x61;
    }

    /// <summary>PEX: a <c>PexAddrs</c> holds at most 250 addresses of at most 256 bytes (docs/protocol.md §7).</summary>
    public static ChannelDescriptor Pex { get; } =
        new(Ids.Pex, 1) { SendQueueCapacity = 10, RecvMessageCapacity = 256 * 250 };

    public static ChannelDescriptor ConsensusState { get; } = new(Ids.ConsensusState, 6);
    public static ChannelDescriptor ConsensusData { get; } = new(Ids.ConsensusData, 10);
    public static ChannelDescriptor ConsensusVote { get; } = new(Ids.ConsensusVote, 7);
    public static ChannelDescriptor ConsensusVoteSetBits { get; } = new(Ids.ConsensusVoteSetBits, 1);
    public static ChannelDescriptor Mempool { get; } = new(Ids.Mempool, 5);
    public static ChannelDescriptor Evidence { get; } = new(Ids.Evidence, 6);
    public static ChannelDescriptor BlockSync { get; } = new(Ids.BlockSync, 5) { SendQueueCapacity = 1000 };
    public static ChannelDescriptor StateSyncSnapshot { get; } = new(Ids.StateSyncSnapshot, 5);
    public static ChannelDescriptor StateSyncChunk { get; } = new(Ids.StateSyncChunk, 3);

    /// <summary>Every standard descriptor, in ID order.</summary>
    public static IReadOnlyList<ChannelDescriptor> All { get; } =
    [
        Pex, ConsensusState, ConsensusData, ConsensusVote, ConsensusVoteSetBits,
        Mempool, Evidence, BlockSync, StateSyncSnapshot, StateSyncChunk,
    ];
}
