using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// Cuts a stream of bytes, fed in chunks of any size, into whole MConnection <see cref="Packet"/>s.
/// A declared length over <see cref="MaxPacketSize"/> fails as soon as the length prefix is readable, so a peer
/// cannot make us buffer (or allocate) more than one maximal packet plus the chunk in hand.
/// Any exception is fatal for the connection; the decoder is not usable after one.
/// Its buffer is rented from the shared pool only while it holds bytes: <see cref="Decode"/> reads whole packets where
/// they lie and gives the buffer back once no unfinished packet is left, so an idle connection holds none.
/// </summary>
public sealed class PacketDecoder
{
    private byte[] _buffer = [];
    private int _start;
    private int _end;

    /// <param name="maxPacketSize">Largest packet body accepted, normally <see cref="PacketCodec.MaxPacketSize"/> of our payload size.</param>
    public PacketDecoder(int maxPacketSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPacketSize);
        MaxPacketSize = maxPacketSize;
    }

    public int MaxPacketSize { get; }

    /// <summary>Bytes fed but not yet returned as packets.</summary>
    public int BufferedBytes => _end - _start;

    /// <summary>The buffer held, bytes in it or not (for specs).</summary>
    internal int HeldBufferBytes => _buffer.Length;

    /// <summary>Appends bytes from the stream; call <c>TryDecode</c> until it returns false afterwards.</summary>
    public void Feed(ReadOnlySpan<byte> chunk) => Append(chunk);

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        if (_buffer.Length - _end < bytes.Length)
            MakeRoom(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_end));
        _end += bytes.Length;
    }

    /// <summary>
    /// Returns the next whole packet, or false when more bytes are needed. Throws
    /// <see cref="ProtocolViolationException"/>: <see cref="ProtocolViolation.MessageTooLarge"/> or
    /// <see cref="ProtocolViolation.MalformedLengthPrefix"/> from the prefix, <see cref="ProtocolViolation.MalformedMessage"/>
    /// for a body that does not decode or a <c>Packet</c> with none of ping, pong or msg set.
    /// </summary>
    internal bool TryDecode([NotNullWhen(true)] out Packet? packet)
    {
        packet = null;
        var available = _buffer.AsSpan(_start, _end - _start);
        if (!LengthDelimited.TryFrame(available, MaxPacketSize, out var prefixLength, out var length))
            return false;

        packet = Parse(available.Slice(prefixLength, length));
        Advance(prefixLength + length);
        return true;
    }

    /// <summary>A packet body through Google.Protobuf; a <c>Packet</c> with none of its three kinds is malformed.</summary>
    private static Packet Parse(ReadOnlySpan<byte> body)
    {
        var packet = LengthDelimited.Parse(Packet.Parser, body);
        if (packet.SumCase == Packet.SumOneofCase.None)
            throw new ProtocolViolationException(ProtocolViolation.MalformedMessage,
                "packet has none of packet_ping, packet_pong, packet_msg");
        return packet;
    }

    /// <summary>
    /// <see cref="TryDecode(out Packet?)"/> without the <see cref="Packet"/>: returns the next packet's kind and, for a
    /// <c>PacketMsg</c>, its fields, with <paramref name="data"/> a view into the decoder's buffer that is valid until
    /// the next <see cref="Feed"/>. A <c>PacketMsg</c> in the canonical layout (what Go and we write) is read in place;
    /// anything else goes through Google.Protobuf as in <see cref="TryDecode(out Packet?)"/>, so both accept and reject the same bytes.
    /// </summary>
    internal bool TryDecode(out Packet.SumOneofCase kind, out int channelId, out bool eof, out ReadOnlySpan<byte> data)
    {
        kind = Packet.SumOneofCase.None;
        channelId = 0;
        eof = false;
        data = default;
        var available = _buffer.AsSpan(_start, _end - _start);
        if (!LengthDelimited.TryFrame(available, MaxPacketSize, out var prefixLength, out var length))
            return false;
        // The body stays where it is until the next Feed: advancing only moves the read offset.
        kind = Read(available.Slice(prefixLength, length), out channelId, out eof, out data);
        Advance(prefixLength + length);
        return true;
    }

    /// <summary>What <see cref="Decode"/> calls for each packet; <c>data</c> is a view valid only during the call.</summary>
    internal delegate void PacketHandler(Packet.SumOneofCase kind, int channelId, bool eof, ReadOnlySpan<byte> data);

    /// <summary>
    /// Feeds <paramref name="chunk"/> and hands every whole packet to <paramref name="onPacket"/>, in order, reading
    /// the chunk in place: only a packet cut by the chunk's end is copied (into the decoder, to be completed by the next
    /// chunk). Equivalent to <see cref="Feed"/> and <see cref="TryDecode(out Packet.SumOneofCase, out int, out bool, out ReadOnlySpan{byte})"/>
    /// until false, with one copy of the stream fewer. Throws as <c>TryDecode</c> does, after handing over the packets before the bad one.
    /// </summary>
    internal void Decode(ReadOnlySpan<byte> chunk, PacketHandler onPacket)
    {
        // First whatever the decoder holds: complete it from the chunk's front, a prefix byte at a time, then the rest.
        while (_end > _start)
        {
            var buffered = _buffer.AsSpan(_start, _end - _start);
            if (LengthDelimited.TryFrame(buffered, MaxPacketSize, out var prefix, out var length))
            {
                // The view stays valid during the call: nothing is appended to the buffer until it returns.
                var body = buffered.Slice(prefix, length);
                Advance(prefix + length);
                Dispatch(body, onPacket);
                continue;
            }
            if (chunk.IsEmpty)
                return;
            var take = Math.Min(length == 0 ? 1 : prefix + length - buffered.Length, chunk.Length);
            Append(chunk[..take]);
            chunk = chunk[take..];
        }
        // Then the chunk's whole packets where they lie, and the unfinished one at its end into the buffer.
        while (LengthDelimited.TryFrame(chunk, MaxPacketSize, out var prefix, out var length))
        {
            var body = chunk.Slice(prefix, length);
            chunk = chunk[(prefix + length)..];
            Dispatch(body, onPacket);
        }
        Append(chunk);
        if (_end == _start && _buffer.Length > 0)
        {
            // Every view handed out has been read (each only during its call): the buffer can go back.
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            _start = _end = 0;
        }
    }

    private static void Dispatch(ReadOnlySpan<byte> body, PacketHandler onPacket)
    {
        var kind = Read(body, out var channelId, out var eof, out var data);
        onPacket(kind, channelId, eof, data);
    }

    /// <summary>
    /// One packet's body: a <c>PacketMsg</c> in the canonical layout read in place, anything else through
    /// Google.Protobuf (then <paramref name="data"/> is the parser's copy), so both accept and reject the same bytes.
    /// </summary>
    private static Packet.SumOneofCase Read(ReadOnlySpan<byte> body, out int channelId, out bool eof, out ReadOnlySpan<byte> data)
    {
        if (TryReadCanonicalPacketMsg(body, out channelId, out eof, out var dataOffset, out var dataLength))
        {
            data = body.Slice(dataOffset, dataLength);
            return Packet.SumOneofCase.PacketMsg;
        }
        var packet = Parse(body);
        data = default;
        if (packet.SumCase == Packet.SumOneofCase.PacketMsg)
        {
            channelId = packet.PacketMsg.ChannelId;
            eof = packet.PacketMsg.Eof;
            data = packet.PacketMsg.Data.Span;
        }
        return packet.SumCase;
    }

    /// <summary>
    /// Reads <c>Packet{packet_msg: {channel_id?, eof?, data?}}</c> when laid out exactly as proto3 writes it: fields in
    /// order, each at most once, minimal forms only (eof as a single 0/1 byte, channel ID within int32). False means
    /// "not this layout", never "malformed": the caller then parses the general way.
    /// </summary>
    private static bool TryReadCanonicalPacketMsg(ReadOnlySpan<byte> body, out int channelId, out bool eof, out int dataOffset, out int dataLength)
    {
        channelId = 0;
        eof = false;
        dataOffset = 0;
        dataLength = 0;
        if (body.Length < 2 || body[0] != 0x1a) return false;
        if (UVarint.TryRead(body[1..], out var innerLength, out var innerPrefix) != UVarint.Status.Ok) return false;
        var i = 1 + innerPrefix;
        if ((ulong)(body.Length - i) != innerLength) return false;
        if (i < body.Length && body[i] == 0x08)
        {
            if (UVarint.TryRead(body[(i + 1)..], out var channel, out var n) != UVarint.Status.Ok || channel > int.MaxValue) return false;
            channelId = (int)channel;
            i += 1 + n;
        }
        if (i < body.Length && body[i] == 0x10)
        {
            if (i + 1 >= body.Length || body[i + 1] > 1) return false;
            eof = body[i + 1] == 1;
            i += 2;
        }
        if (i < body.Length && body[i] == 0x1a)
        {
            if (UVarint.TryRead(body[(i + 1)..], out var length, out var n) != UVarint.Status.Ok) return false;
            i += 1 + n;
            if ((ulong)(body.Length - i) != length) return false;
            dataOffset = i;
            dataLength = (int)length;
            i += dataLength;
        }
        return i == body.Length;
    }

    private void Advance(int count)
    {
        _start += count;
        if (_start == _end)
            _start = _end = 0;
    }

    /// <summary>Called at the end of the stream: a partly received packet means the remote hung up mid-packet.</summary>
    public void Complete()
    {
        if (BufferedBytes > 0)
            throw new ProtocolViolationException(ProtocolViolation.UnexpectedEof,
                $"stream ended with {BufferedBytes} bytes of an unfinished packet");
    }

    private void MakeRoom(int needed)
    {
        var buffered = _end - _start;
        if (_buffer.Length - buffered >= needed && buffered <= _buffer.Length / 2)
        {
            // Compact in place: what remains is at most a partial packet, so the copy is small.
            _buffer.AsSpan(_start, buffered).CopyTo(_buffer);
        }
        else
        {
            // At first room for one maximal packet (all that Decode keeps) or, fed by Feed, for a few of them.
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(
                Math.Max(_buffer.Length * 2, buffered + needed), MaxPacketSize + LengthDelimited.MaxPrefixLength));
            _buffer.AsSpan(_start, buffered).CopyTo(grown);
            if (_buffer.Length > 0)
                ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = grown;
        }
        _start = 0;
        _end = buffered;
    }
}
