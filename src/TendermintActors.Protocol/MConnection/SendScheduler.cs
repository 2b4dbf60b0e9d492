using System.Buffers;
using Google.Protobuf;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.MConnection;

/// <summary>What <see cref="SendScheduler.TryEnqueue"/> did with a message.</summary>
public enum EnqueueResult
{
    Accepted,
    /// <summary>The channel already holds its <see cref="ChannelDescriptor.SendQueueCapacity"/> waiting messages.</summary>
    QueueFull,
    /// <summary>No channel with that ID was declared.</summary>
    UnknownChannel,
}

/// <summary>
/// How <see cref="SendScheduler"/> chooses the channel that sends the next packet (<c>tendermint.p2p.queue-type</c>;
/// the names are Tendermint v0.35's <c>queue-type</c> values). Every strategy keeps each channel's messages in order
/// and never interleaves the fragments of one channel's messages; they differ in how channels share the connection.
/// </summary>
public enum SendQueueType
{
    /// <summary>
    /// Go v0.34's rule: the channel with the least <c>recentlySent / priority</c> (recentlySent decays ×0.8 every
    /// 2 s). Under saturation channels share bytes in proportion to their priorities; a channel that was quiet lately
    /// goes first.
    /// </summary>
    Priority,
    /// <summary>
    /// First come, first served across channels: the message enqueued earliest goes out whole before the next one
    /// starts, whatever its channel. Priorities are ignored; a large message delays everything queued after it.
    /// </summary>
    Fifo,
    /// <summary>
    /// Weighted deficit round robin: channels with something to send take turns; each turn a channel's credit grows
    /// by <c>priority</c> largest packets and it sends packets while its credit covers them. Under saturation shares
    /// follow the priorities exactly within one round, with no memory of past traffic; every backlogged channel sends
    /// at least one packet per round.
    /// </summary>
    Wdrr,
}

/// <summary>
/// The next <c>PacketMsg</c> to put on the wire: <see cref="Data"/> is a slice of the enqueued message, not a copy,
/// so it is valid as long as the caller keeps that message's memory unchanged.
/// </summary>
public readonly struct PacketMsgFragment(byte channelId, bool eof, ReadOnlyMemory<byte> data)
{
    public byte ChannelId { get; } = channelId;
    public bool Eof { get; } = eof;
    public ReadOnlyMemory<byte> Data { get; } = data;

    /// <summary>Length-delimited size on the wire.</summary>
    public int EncodedSize => PacketCodec.SizeOfPacketMsg(ChannelId, Eof, Data.Length);

    public int WriteTo(Span<byte> destination) => PacketCodec.WritePacketMsg(destination, ChannelId, Eof, Data.Span);

    public void WriteTo(IBufferWriter<byte> writer) => PacketCodec.WritePacketMsg(writer, ChannelId, Eof, Data.Span);

    /// <summary>The protobuf object (copies the data); for tests and slow paths.</summary>
    internal PacketMsg ToPacketMsg() => new() { ChannelId = ChannelId, Eof = Eof, Data = ByteString.CopyFrom(Data.Span) };

    public override string ToString() => $"PacketMsg(0x{ChannelId:x2}, eof={Eof}, {Data.Length} bytes)";
}

/// <summary>
/// One channel's send-side state, for monitoring. <c>QueueSize</c> counts messages not completely sent, the one being
/// fragmented included (Go's <c>sendQueueSize</c>); <c>RecentlySent</c> is packet bytes sent lately, decayed by
/// <see cref="SendScheduler.Decay"/>; <c>PendingBytes</c> is message bytes not yet cut into packets.
/// </summary>
public readonly record struct ChannelSendStatus(
    byte Id, int Priority, int SendQueueCapacity, int QueueSize, long RecentlySent, long PendingBytes);

/// <summary>
/// The sending half of an MConnection (docs/protocol.md §5) without I/O: per-channel bounded queues of whole messages,
/// and a scheduler that picks a channel (by default the one with the least <c>recentlySent / priority</c>; see
/// <see cref="SendQueueType"/>) and cuts the next fragment of its current message. Single-threaded: one owner (a stream stage) calls everything, and passes time in by
/// calling <see cref="Decay"/> every 2 s.
/// </summary>
/// <remarks>
/// Queue semantics follow Go (<see cref="ChannelDescriptor.HasSendRoom"/>, which the peer actor applies too): a channel
/// admits a message while fewer than <see cref="ChannelDescriptor.SendQueueCapacity"/> messages wait; the message being
/// fragmented has left the queue (Go moves it to <c>sending</c>). So a channel holds at most capacity + 1 messages,
/// which is the memory bound. Unlike Go, where the move happens on the sender's next
/// pass, an idle channel's message becomes current at once; Go's sender runs continuously, so admission is the same.
/// A channel's state is made at its first message: a channel that never sends holds none.
/// </remarks>
public sealed class SendScheduler
{
    private readonly ChannelDescriptor[] _descriptors;
    private readonly Channel?[] _channels; // null until the channel's first message
    private readonly ChannelIndex _index;
    private readonly int _maxPacketSize;
    private int _pendingMessages;
    // Fifo: the order in which messages were enqueued, over all channels.
    private long _nextSequence;
    // Wdrr: the channel whose turn it is, and whether it has been given this turn's credit.
    private int _turn;
    private bool _turnCredited;

    public SendScheduler(IEnumerable<ChannelDescriptor> channels, int maxPacketPayloadSize = PacketCodec.DefaultMaxPayloadSize,
        SendQueueType queueType = SendQueueType.Priority) : this(channels, maxPacketPayloadSize, queueType, index: null)
    {
    }

    /// <param name="channels">The channels.</param>
    /// <param name="maxPacketPayloadSize">Most data bytes per packet.</param>
    /// <param name="queueType">How to choose among channels.</param>
    /// <param name="index">An index of exactly these channels to share (connections of one node share one), or null to make one.</param>
    internal SendScheduler(IEnumerable<ChannelDescriptor> channels, int maxPacketPayloadSize, SendQueueType queueType, ChannelIndex? index)
    {
        if (!Enum.IsDefined(queueType))
            throw new ArgumentOutOfRangeException(nameof(queueType), queueType, "not a queue type");
        QueueType = queueType;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPacketPayloadSize);
        var descriptors = channels?.ToArray() ?? throw new ArgumentNullException(nameof(channels));
        ChannelDescriptor.ValidateSet(descriptors);
        MaxPacketPayloadSize = maxPacketPayloadSize;
        _maxPacketSize = PacketCodec.MaxPacketSize(maxPacketPayloadSize);
        _descriptors = descriptors;
        _channels = new Channel?[descriptors.Length];
        _index = index ?? new ChannelIndex(descriptors);
        Channels = descriptors;
    }

    /// <summary>The descriptors, in the order that breaks ties between equal ratios (the first wins, as in Go).</summary>
    public IReadOnlyList<ChannelDescriptor> Channels { get; }

    public int MaxPacketPayloadSize { get; }

    public SendQueueType QueueType { get; }

    /// <summary>True while some channel has a message, or part of one, to send.</summary>
    public bool HasPending => _pendingMessages > 0;

    /// <summary>Message bytes enqueued and not yet cut into packets, over all channels.</summary>
    public long PendingBytes { get; private set; }

    public bool HasChannel(byte channelId) => _index[channelId] >= 0;

    /// <summary>Channels whose state has been made (specs: at their first message).</summary>
    internal int ChannelsInUse => _channels.Count(c => c is not null);

    /// <summary>Whether <see cref="TryEnqueue"/> would accept a message on the channel now.</summary>
    public bool CanEnqueue(byte channelId) =>
        _index[channelId] is var i and >= 0 && (_channels[i]?.CanAccept ?? _descriptors[i].HasSendRoom(0));

    /// <summary>
    /// Queues a whole message. The scheduler keeps <paramref name="message"/> (no copy) and hands out slices of it:
    /// the caller must not change or recycle that memory until the message's eof fragment has been written.
    /// </summary>
    public EnqueueResult TryEnqueue(byte channelId, ReadOnlyMemory<byte> message)
    {
        if (_index[channelId] is not (var i and >= 0))
            return EnqueueResult.UnknownChannel;
        var ch = _channels[i] ??= new Channel(_descriptors[i]);
        if (!ch.CanAccept)
            return EnqueueResult.QueueFull;

        var sequence = _nextSequence++;
        if (ch.HasCurrent)
            ch.Wait(message, sequence);
        else
            ch.StartMessage(message, sequence);
        _pendingMessages++;
        PendingBytes += message.Length;
        ch.PendingBytes += message.Length;
        return EnqueueResult.Accepted;
    }

    /// <summary>
    /// Cuts the next packet: among channels with something pending, the one with the least
    /// <c>recentlySent / priority</c> (ties to the earlier channel) gives its current message's next fragment of at
    /// most <see cref="MaxPacketPayloadSize"/> bytes. The packet's wire size is added to that channel's recentlySent.
    /// Returns false when nothing is pending.
    /// </summary>
    public bool TryNextPacket(out PacketMsgFragment fragment) => TryNextPacket(quietOnly: false, out fragment);

    /// <summary>
    /// Like <see cref="TryNextPacket(out PacketMsgFragment)"/>, but only among quiet channels: those that have had
    /// less than one largest packet's worth of bytes cut since the last <see cref="StartQuietPeriod"/> (right after
    /// it, every channel). A rate-limited connection whose budget is spent uses it to let a quiet channel (a consensus
    /// vote behind a block transfer, say) send at once rather than after the next refill: per channel and period,
    /// under one packet's worth of bytes plus the packet that crosses it, charged to the budget.
    /// </summary>
    public bool TryNextQuietPacket(out PacketMsgFragment fragment) => TryNextPacket(quietOnly: true, out fragment);

    /// <summary>Every channel counts as quiet again until its next packet (the owner calls it once per refill tick's worth of time).</summary>
    public void StartQuietPeriod()
    {
        foreach (var ch in _channels)
            if (ch is not null)
                ch.SentThisPeriod = 0;
    }

    private bool TryNextPacket(bool quietOnly, out PacketMsgFragment fragment)
    {
        fragment = default;
        if (_pendingMessages == 0)
            return false;

        var channel = QueueType switch
        {
            SendQueueType.Fifo => EarliestMessage(quietOnly),
            SendQueueType.Wdrr => NextTurn(quietOnly),
            _ => LeastRecentlySentOverPriority(quietOnly),
        };
        if (channel is null)
            return false;

        var id = channel.Descriptor.Id;
        var remaining = channel.Current.Length - channel.Offset;
        var take = Math.Min(remaining, MaxPacketPayloadSize);
        var eof = remaining <= MaxPacketPayloadSize;
        // A channel ID of 0x80 or more takes a 2-byte varint, so a full last fragment would be one byte over the
        // reader's limit (which Go computes with channel 1) and a Go peer would disconnect us. Such a fragment goes
        // without eof, and an empty eof packet follows: same message on the other side, every packet within limit.
        if (eof && take > 0 && PacketCodec.PacketBodySize(id, eof: true, take) > _maxPacketSize)
            eof = false;

        var data = channel.Current.Slice(channel.Offset, take);
        channel.Offset += take;
        PendingBytes -= take;
        channel.PendingBytes -= take;
        var size = PacketCodec.SizeOfPacketMsg(id, eof, take);
        channel.RecentlySent += size;
        channel.SentThisPeriod += size;
        channel.Credit -= size;
        if (eof)
        {
            _pendingMessages--;
            if (channel.TryTakeWaiting(out var next))
                channel.StartMessage(next.Message, next.Sequence);
            else
                channel.EndMessage();
        }
        // Deficit round robin: a channel left with nothing to send keeps no credit, and its turn ends.
        if (QueueType == SendQueueType.Wdrr && !channel.HasCurrent)
        {
            channel.Credit = 0;
            EndTurn();
        }
        fragment = new PacketMsgFragment(id, eof, data);
        return true;
    }

    private bool Eligible([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] Channel? ch, bool quietOnly) =>
        ch is { HasCurrent: true } && (!quietOnly || ch.SentThisPeriod < _maxPacketSize);

    private Channel? LeastRecentlySentOverPriority(bool quietOnly)
    {
        Channel? least = null;
        // float, as Go computes the ratio: near-equal ratios tie the same way.
        var leastRatio = float.MaxValue;
        foreach (var ch in _channels)
        {
            if (!Eligible(ch, quietOnly)) continue;
            var ratio = (float)ch.RecentlySent / ch.Descriptor.Priority;
            if (least is null || ratio < leastRatio)
            {
                least = ch;
                leastRatio = ratio;
            }
        }
        return least;
    }

    private Channel? EarliestMessage(bool quietOnly)
    {
        Channel? earliest = null;
        foreach (var ch in _channels)
            if (Eligible(ch, quietOnly) && (earliest is null || ch.CurrentSequence < earliest.CurrentSequence))
                earliest = ch;
        return earliest;
    }

    private Channel? NextTurn(bool quietOnly)
    {
        // Each turn adds at least one largest packet to an eligible channel's credit, but a channel may owe a few bytes
        // from its last packet (see below), so one turn can fall short: two passes over the channels (plus the one
        // whose turn it is) credit every eligible channel twice and so find a sender whenever one is eligible.
        for (var visited = 0; visited <= 2 * _channels.Length; visited++)
        {
            var ch = _channels[_turn];
            if (!Eligible(ch, quietOnly))
            {
                if (ch is { HasCurrent: false })
                    ch.Credit = 0;
                EndTurn();
                continue;
            }
            if (!_turnCredited)
            {
                ch.Credit += (long)ch.Descriptor.Priority * _maxPacketSize;
                _turnCredited = true;
            }
            // Capped at the largest packet, so that one turn's credit always covers one packet (a channel ID of 0x80
            // or more makes a full fragment a byte longer); what is spent beyond the credit is owed next turn.
            if (ch.Credit >= Math.Min(NextPacketSize(ch), _maxPacketSize))
                return ch;
            EndTurn();
        }
        return null;
    }

    private void EndTurn()
    {
        _turn = (_turn + 1) % _channels.Length;
        _turnCredited = false;
    }

    private int NextPacketSize(Channel ch) =>
        PacketCodec.SizeOfPacketMsg(ch.Descriptor.Id, eof: false, Math.Min(ch.Current.Length - ch.Offset, MaxPacketPayloadSize));

    /// <summary>Multiplies every channel's recentlySent by 0.8, truncating as Go does; the owner calls it every 2 s.</summary>
    public void Decay()
    {
        foreach (var ch in _channels)
            if (ch is not null)
                ch.RecentlySent = (long)(ch.RecentlySent * 0.8);
    }

    /// <summary>Whether every channel's recently-sent count has decayed to 0: further decays change nothing until a send.</summary>
    public bool FullyDecayed
    {
        get
        {
            foreach (var ch in _channels)
                if (ch is { RecentlySent: not 0 }) return false;
            return true;
        }
    }

    /// <summary>The channel's state, or null when it was not declared.</summary>
    public ChannelSendStatus? GetStatus(byte channelId) => _index[channelId] is var i and >= 0 ? StatusOf(i) : null;

    /// <summary>Every channel's state, in descriptor order.</summary>
    public ChannelSendStatus[] GetStatus()
    {
        var result = new ChannelSendStatus[_channels.Length];
        for (var i = 0; i < result.Length; i++)
            result[i] = StatusOf(i);
        return result;
    }

    private ChannelSendStatus StatusOf(int i) => _channels[i]?.Status() ?? Channel.IdleStatus(_descriptors[i]);

    private sealed class Channel(ChannelDescriptor descriptor)
    {
        public readonly ChannelDescriptor Descriptor = descriptor;
        private Queue<(ReadOnlyMemory<byte> Message, long Sequence)>? _waiting; // made when a second message queues
        public ReadOnlyMemory<byte> Current;
        public long CurrentSequence;
        public long Credit;
        public bool HasCurrent;
        public int Offset;
        public long RecentlySent;
        public long PendingBytes;
        public long SentThisPeriod;

        // Nothing waits while no message is current (an idle channel's message becomes current at once).
        public bool CanAccept => Descriptor.HasSendRoom(Queued);

        private int Queued => (_waiting?.Count ?? 0) + (HasCurrent ? 1 : 0);

        public void Wait(ReadOnlyMemory<byte> message, long sequence) => (_waiting ??= new()).Enqueue((message, sequence));

        public bool TryTakeWaiting(out (ReadOnlyMemory<byte> Message, long Sequence) next)
        {
            if (_waiting is { Count: > 0 } waiting)
            {
                next = waiting.Dequeue();
                return true;
            }
            next = default;
            return false;
        }

        public void StartMessage(ReadOnlyMemory<byte> message, long sequence)
        {
            Current = message;
            CurrentSequence = sequence;
            Offset = 0;
            HasCurrent = true;
        }

        public void EndMessage()
        {
            Current = default;
            Offset = 0;
            HasCurrent = false;
        }

        public ChannelSendStatus Status() => new(Descriptor.Id, Descriptor.Priority, Descriptor.SendQueueCapacity,
            Queued, RecentlySent, PendingBytes);

        public static ChannelSendStatus IdleStatus(ChannelDescriptor descriptor) =>
            new(descriptor.Id, descriptor.Priority, descriptor.SendQueueCapacity, 0, 0, 0);
    }
}
