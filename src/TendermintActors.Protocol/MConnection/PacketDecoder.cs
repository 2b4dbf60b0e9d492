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
/// </summary>
public sealed class PacketDecoder
{
    private byte[] _buffer;
    private int _start;
    private int _end;

    /// <param name="maxPacketSize">Largest packet body accepted, normally <see cref="PacketCodec.MaxPacketSize"/> of our payload size.</param>
    public PacketDecoder(int maxPacketSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPacketSize);
        MaxPacketSize = maxPacketSize;
        // Room for a few maximal packets before the first compaction.
        _buffer = new byte[4 * (maxPacketSize + LengthDelimited.MaxPrefixLength)];
    }

    public int MaxPacketSize { get; }

    /// <summary>Bytes fed but not yet returned as packets.</summary>
    public int BufferedBytes => _end - _start;

    /// <summary>Appends bytes from the stream; call <see cref="TryDecode"/> until it returns false afterwards.</summary>
    public void Feed(ReadOnlySpan<byte> chunk)
    {
        if (chunk.IsEmpty) return;
        if (_buffer.Length - _end < chunk.Length)
            MakeRoom(chunk.Length);
        chunk.CopyTo(_buffer.AsSpan(_end));
        _end += chunk.Length;
    }

    /// <summary>
    /// Returns the next whole packet, or false when more bytes are needed. Throws
    /// <see cref="ProtocolViolationException"/>: <see cref="ProtocolViolation.MessageTooLarge"/> or
    /// <see cref="ProtocolViolation.MalformedLengthPrefix"/> from the prefix, <see cref="ProtocolViolation.MalformedMessage"/>
    /// for a body that does not decode or a <c>Packet</c> with none of ping, pong or msg set.
    /// </summary>
    public bool TryDecode([NotNullWhen(true)] out Packet? packet)
    {
        packet = null;
        var available = _buffer.AsSpan(_start, _end - _start);
        if (!LengthDelimited.TryFrame(available, MaxPacketSize, out var prefixLength, out var length))
            return false;

        var decoded = LengthDelimited.Parse(Packet.Parser, available.Slice(prefixLength, length));
        if (decoded.SumCase == Packet.SumOneofCase.None)
            throw new ProtocolViolationException(ProtocolViolation.MalformedMessage,
                "packet has none of packet_ping, packet_pong, packet_msg");

        _start += prefixLength + length;
        if (_start == _end)
            _start = _end = 0; // the common case: the buffer drained, start again at the front without copying
        packet = decoded;
        return true;
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
            var grown = new byte[Math.Max(_buffer.Length * 2, buffered + needed)];
            _buffer.AsSpan(_start, buffered).CopyTo(grown);
            _buffer = grown;
        }
        _start = 0;
        _end = buffered;
    }
}
