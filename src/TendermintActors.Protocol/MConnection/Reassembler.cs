using System.Buffers;
using Google.Protobuf;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// The receiving half of an MConnection (docs/protocol.md §5) without I/O: keeps each <c>PacketMsg</c>'s data with its
/// channel's unfinished message and hands back the whole message at eof. Any <see cref="ProtocolViolationException"/> it throws
/// ends the connection, as in Go. Single-threaded, like <see cref="SendScheduler"/>.
/// </summary>
/// <remarks>A channel's state is made at its first fragment: a channel that never receives holds none.</remarks>
public sealed class Reassembler
{
    private readonly ChannelDescriptor[] _descriptors;
    private readonly Channel?[] _channels;
    private readonly ChannelIndex _index;

    public Reassembler(IEnumerable<ChannelDescriptor> channels) : this(channels, index: null)
    {
    }

    /// <param name="channels">The channels.</param>
    /// <param name="index">An index of exactly these channels to share (connections of one node share one), or null to make one.</param>
    internal Reassembler(IEnumerable<ChannelDescriptor> channels, ChannelIndex? index)
    {
        var descriptors = channels?.ToArray() ?? throw new ArgumentNullException(nameof(channels));
        ChannelDescriptor.ValidateSet(descriptors);
        _descriptors = descriptors;
        _channels = new Channel?[descriptors.Length];
        _index = index ?? new ChannelIndex(descriptors);
    }

    private Channel? ById(int channelId) => _index[channelId] is var i and >= 0 ? _channels[i] : null;

    private Channel? GetOrAdd(int channelId) => _index[channelId] is var i and >= 0 ? _channels[i] ??= new Channel(_descriptors[i]) : null;

    /// <summary>
    /// Takes one decoded fragment; returns the complete message when it is the last one, otherwise null. The packet's
    /// data is kept as it is until eof (a <see cref="ByteString"/> is immutable), so a message is copied only once,
    /// into the array returned.
    /// </summary>
    internal byte[]? Accept(PacketMsg packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        return Accept(packet.ChannelId, packet.Eof, packet.Data.Span, packet.Data);
    }

    /// <summary>
    /// Takes one fragment given by its fields (the span is copied if it must be kept). Throws
    /// <see cref="ProtocolViolation.UnknownChannel"/> for a channel not declared (or an ID outside 0..255) and
    /// <see cref="ProtocolViolation.ReceiveCapacityExceeded"/> when the message would grow past the channel's
    /// <see cref="ChannelDescriptor.RecvMessageCapacity"/>.
    /// </summary>
    public byte[]? Accept(int channelId, bool eof, ReadOnlySpan<byte> data) => Accept(channelId, eof, data, null);

    /// <summary>Bytes of an unfinished message held for the channel (0 for an unknown channel).</summary>
    public int BufferedBytes(byte channelId) => ById(channelId)?.Length ?? 0;

    /// <summary>Channels whose state has been made (specs: at their first fragment).</summary>
    internal int ChannelsInUse => _channels.Count(c => c is not null);

    /// <summary>Bytes of buffer the channel holds for reassembly (for specs: none between messages).</summary>
    internal int HeldBufferBytes(byte channelId) => ById(channelId)?.HeldTailBytes ?? 0;

    private byte[]? Accept(int channelId, bool eof, ReadOnlySpan<byte> data, ByteString? owned)
    {
        if (GetOrAdd(channelId) is not { } ch)
            throw new ProtocolViolationException(ProtocolViolation.UnknownChannel, $"packet for unknown channel {channelId} (0x{channelId:x2})");

        var total = (long)ch.Length + data.Length;
        if (total > ch.Descriptor.RecvMessageCapacity)
            throw new ProtocolViolationException(ProtocolViolation.ReceiveCapacityExceeded,
                $"channel 0x{ch.Descriptor.Id:x2}: message of at least {total} bytes exceeds the capacity of {ch.Descriptor.RecvMessageCapacity}");

        if (!eof)
        {
            if (!data.IsEmpty)
                ch.Keep(data, owned);
            return null;
        }
        return ch.Length == 0 ? data.ToArray() : ch.Finish(data);
    }

    private sealed class Channel(ChannelDescriptor descriptor)
    {
        // Fragments at least this long are kept as the ByteString the decoder made (no copy); shorter ones are
        // copied into a shared tail array, so that a peer sending tiny fragments cannot make per-fragment object
        // overhead outgrow the data itself (the capacity check counts data bytes only).
        private const int KeepWholeFrom = 512;
        private const int TailSize = 4096;
        // A segment list that a huge message grew is dropped afterwards rather than pinned for the connection's life.
        private const int RetainedSegmentsCapacity = 64;

        public readonly ChannelDescriptor Descriptor = descriptor;
        private List<ReadOnlyMemory<byte>>? _segments;
        // Those of the unfinished message, rented from the shared pool and given back as soon as it is copied out,
        // so that a channel between messages holds none.
        private List<byte[]>? _tails; // made at the first tail
        private byte[]? _tail;
        private int _tailUsed;
        private bool _lastSegmentIsTail;
        // The length of the last message that came in more than one packet. Messages on a channel tend to repeat their
        // size (block parts, bulk transfers), so the next one is copied straight into an array of that length and, if
        // it ends there, handed over without another copy. A wrong guess costs what reassembly cost before (one copy
        // into an exact array) plus that array, which is no larger than a message the peer has already sent, and no
        // larger than MaxLengthHint: a one-byte fragment must not make us set aside megabytes on its word.
        private const int MaxLengthHint = 1024 * 1024;
        private int _lengthHint;
        private byte[]? _direct;
        public int Length;

        public void Keep(ReadOnlySpan<byte> data, ByteString? owned)
        {
            if (Length == 0 && _lengthHint >= data.Length)
                _direct = GC.AllocateUninitializedArray<byte>(_lengthHint);
            if (_direct is not null)
            {
                if (Length + data.Length <= _direct.Length)
                {
                    data.CopyTo(_direct.AsSpan(Length));
                    Length += data.Length;
                    return;
                }
                // Longer than the guess: what is there becomes the first segment and the rest goes as below.
                AbandonDirect();
            }
            var segments = _segments ??= [];
            Length += data.Length;
            if (owned is not null && data.Length >= KeepWholeFrom)
            {
                segments.Add(owned.Memory);
                _lastSegmentIsTail = false;
                return;
            }
            if (_tail is null || _tail.Length - _tailUsed < data.Length)
            {
                _tail = NextTail(data.Length);
                _tailUsed = 0;
                _lastSegmentIsTail = false;
            }
            data.CopyTo(_tail.AsSpan(_tailUsed));
            if (_lastSegmentIsTail)
            {
                var last = segments[^1];
                segments[^1] = _tail.AsMemory(_tailUsed - last.Length, last.Length + data.Length);
            }
            else
            {
                segments.Add(_tail.AsMemory(_tailUsed, data.Length));
                _lastSegmentIsTail = true;
            }
            _tailUsed += data.Length;
        }

        /// <summary>Tail bytes held, whether a message is unfinished or not (for specs).</summary>
        public int HeldTailBytes
        {
            get
            {
                var held = 0;
                foreach (var tail in _tails ?? []) held += tail.Length;
                return held;
            }
        }

        /// <summary>The next tail for this message, from the pool (filled before it is read: it need not be zeroed).</summary>
        private byte[] NextTail(int needed)
        {
            var tail = ArrayPool<byte>.Shared.Rent(Math.Max(TailSize, needed));
            (_tails ??= []).Add(tail);
            return tail;
        }

        private void AbandonDirect()
        {
            (_segments ??= []).Add(_direct.AsMemory(0, Length));
            _direct = null;
            _lastSegmentIsTail = false;
        }

        public byte[] Finish(ReadOnlySpan<byte> last)
        {
            var length = Length + last.Length;
            _lengthHint = length <= MaxLengthHint ? length : 0;
            if (_direct is { } direct && length <= direct.Length)
            {
                _direct = null;
                var kept = Length;
                Length = 0;
                if (length == direct.Length)
                {
                    last.CopyTo(direct.AsSpan(kept));
                    return direct;
                }
                var shorter = GC.AllocateUninitializedArray<byte>(length);
                direct.AsSpan(0, kept).CopyTo(shorter);
                last.CopyTo(shorter.AsSpan(kept));
                return shorter;
            }
            if (_direct is not null)
                AbandonDirect();

            // Filled completely below: no need to zero it first (this matters for large messages).
            var message = GC.AllocateUninitializedArray<byte>(length);
            var offset = 0;
            foreach (var segment in _segments!)
            {
                segment.Span.CopyTo(message.AsSpan(offset));
                offset += segment.Length;
            }
            last.CopyTo(message.AsSpan(offset));

            Length = 0;
            _lastSegmentIsTail = false;
            // The message was copied out, so its tails are free: back to the pool, for this channel's next message or
            // any other connection's.
            _tail = null;
            _tailUsed = 0;
            if (_tails is not null)
            {
                foreach (var tail in _tails)
                    ArrayPool<byte>.Shared.Return(tail);
                _tails.Clear();
            }
            if (_segments.Capacity > RetainedSegmentsCapacity)
                _segments = null;
            else
                _segments.Clear();
            return message;
        }
    }
}
