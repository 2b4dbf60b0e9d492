using System.Buffers;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// Encoding of MConnection <see cref="Packet"/>s as they go on the stream: length-delimited protobuf
/// (docs/protocol.md §2, §5). <c>PacketMsg</c>s are hand-encoded straight from the message slice into the caller's
/// buffer, so the send path allocates nothing per packet; the result is the bytes Go's encoder produces.
/// </summary>
public static class PacketCodec
{
    /// <summary>Go's default <c>max-packet-msg-payload-size</c>.</summary>
    public const int DefaultMaxPayloadSize = 1024;

    // Packet field 3 (packet_msg), wire type 2; PacketMsg fields 1 (varint), 2 (varint), 3 (bytes).
    private const byte PacketMsgTag = 0x1a;
    private const byte ChannelIdTag = 0x08;
    private const byte EofTag = 0x10;
    private const byte DataTag = 0x1a;

    /// <summary><c>Packet{packet_ping: {}}</c>, length-delimited.</summary>
    public static ReadOnlySpan<byte> EncodedPing => [0x02, 0x0a, 0x00];

    /// <summary><c>Packet{packet_pong: {}}</c>, length-delimited.</summary>
    public static ReadOnlySpan<byte> EncodedPong => [0x02, 0x12, 0x00];

    /// <summary>
    /// The largest <see cref="Packet"/> body (without its length prefix) a reader accepts when payloads are at most
    /// <paramref name="maxPayloadSize"/>: Go sizes it on a PacketMsg with channel 1, eof and a full payload,
    /// which gives 1034 for 1024.
    /// </summary>
    public static int MaxPacketSize(int maxPayloadSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPayloadSize);
        return PacketBodySize(1, eof: true, maxPayloadSize);
    }

    /// <summary>Bytes of a length-delimited <c>Packet{packet_msg}</c>, prefix included.</summary>
    public static int SizeOfPacketMsg(byte channelId, bool eof, int dataLength)
    {
        var body = PacketBodySize(channelId, eof, dataLength);
        return UVarint.SizeOf((ulong)body) + body;
    }

    /// <summary>Size of the <c>Packet</c> without its length prefix; fields at their default are omitted, as in proto3.</summary>
    internal static int PacketBodySize(byte channelId, bool eof, int dataLength)
    {
        var inner = InnerSize(channelId, eof, dataLength);
        return 1 + UVarint.SizeOf((ulong)inner) + inner;
    }

    private static int InnerSize(byte channelId, bool eof, int dataLength) =>
        (channelId != 0 ? 1 + UVarint.SizeOf(channelId) : 0)
        + (eof ? 2 : 0)
        + (dataLength > 0 ? 1 + UVarint.SizeOf((ulong)dataLength) + dataLength : 0);

    /// <summary>
    /// Writes a length-delimited <c>Packet{packet_msg: PacketMsg{channelId, eof, data}}</c> into
    /// <paramref name="destination"/>, which must hold <see cref="SizeOfPacketMsg"/> bytes; returns the bytes written.
    /// </summary>
    public static int WritePacketMsg(Span<byte> destination, byte channelId, bool eof, ReadOnlySpan<byte> data)
    {
        var inner = InnerSize(channelId, eof, data.Length);
        var body = 1 + UVarint.SizeOf((ulong)inner) + inner;
        var total = UVarint.SizeOf((ulong)body) + body;
        if (destination.Length < total)
            throw new ArgumentException($"destination holds {destination.Length} bytes, the packet needs {total}", nameof(destination));

        var i = UVarint.Write((ulong)body, destination);
        destination[i++] = PacketMsgTag;
        i += UVarint.Write((ulong)inner, destination[i..]);
        if (channelId != 0)
        {
            destination[i++] = ChannelIdTag;
            i += UVarint.Write(channelId, destination[i..]);
        }
        if (eof)
        {
            destination[i++] = EofTag;
            destination[i++] = 1;
        }
        if (data.Length > 0)
        {
            destination[i++] = DataTag;
            i += UVarint.Write((ulong)data.Length, destination[i..]);
            data.CopyTo(destination[i..]);
            i += data.Length;
        }
        return i;
    }

    /// <summary>Writes a length-delimited <c>Packet{packet_msg}</c> into <paramref name="writer"/>.</summary>
    public static void WritePacketMsg(IBufferWriter<byte> writer, byte channelId, bool eof, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var size = SizeOfPacketMsg(channelId, eof, data.Length);
        var written = WritePacketMsg(writer.GetSpan(size), channelId, eof, data);
        writer.Advance(written);
    }

    /// <summary>Any packet through Google.Protobuf, length-delimited (the general, allocating path).</summary>
    internal static byte[] Encode(Packet packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        return LengthDelimited.Encode(packet);
    }
}
