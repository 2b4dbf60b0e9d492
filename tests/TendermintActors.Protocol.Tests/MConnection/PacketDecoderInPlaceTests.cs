using System.Buffers;
using Google.Protobuf;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.Tests.MConnection;

/// <summary>
/// <see cref="PacketDecoder.Decode"/> reads chunks in place; it must give exactly what Feed + TryDecode give, for any
/// way the stream is cut, and fail where they fail.
/// </summary>
public class PacketDecoderInPlaceTests
{
    private const int MaxPacket = 1034;

    private sealed record Seen(Packet.SumOneofCase Kind, int Channel, bool Eof, byte[] Data);

    /// <summary>A stream of every packet kind: canonical PacketMsgs of many sizes (0 and 1024 included), pings, pongs,
    /// and PacketMsgs that only the general parser reads (fields out of order, a default written out).</summary>
    private static (byte[] Stream, int Packets) MixedStream(int seed)
    {
        var random = new Random(seed);
        var writer = new ArrayBufferWriter<byte>();
        var packets = 0;
        for (var i = 0; i < 300; i++, packets++)
        {
            switch (random.Next(6))
            {
                case 0:
                    writer.Write(PacketCodec.EncodedPing);
                    break;
                case 1:
                    writer.Write(PacketCodec.EncodedPong);
                    break;
                case 2:
                    // Non-canonical: data before channel_id, and eof=false written out.
                    var data = new byte[random.Next(0, 200)];
                    random.NextBytes(data);
                    var msg = new CodedBuilder().Bytes(3, data).Varint(1, (ulong)random.Next(0, 256)).Varint(2, 0).Build();
                    var body = new CodedBuilder().Bytes(3, msg).Build();
                    writer.Write(Delimited(body));
                    break;
                default:
                    var size = random.Next(4) switch { 0 => 0, 1 => 1024, _ => random.Next(1, 1025) };
                    var payload = new byte[size];
                    random.NextBytes(payload);
                    PacketCodec.WritePacketMsg(writer, (byte)random.Next(0, 0x80), random.Next(2) == 0, payload);
                    break;
            }
        }
        return (writer.WrittenSpan.ToArray(), packets);
    }

    private static byte[] Delimited(byte[] body)
    {
        var prefix = new byte[LengthDelimited.MaxPrefixLength];
        var n = UVarint.Write((ulong)body.Length, prefix);
        return [.. prefix.AsSpan(0, n), .. body];
    }

    private static List<Seen> ByTryDecode(byte[] stream)
    {
        var decoder = new PacketDecoder(MaxPacket);
        decoder.Feed(stream);
        var seen = new List<Seen>();
        while (decoder.TryDecode(out Packet.SumOneofCase kind, out var channel, out var eof, out ReadOnlySpan<byte> data))
            seen.Add(new Seen(kind, channel, eof, data.ToArray()));
        Assert.Equal(0, decoder.BufferedBytes);
        return seen;
    }

    private static List<Seen> ByDecode(byte[] stream, IEnumerable<int> cuts)
    {
        var decoder = new PacketDecoder(MaxPacket);
        var seen = new List<Seen>();
        var at = 0;
        foreach (var cut in cuts.Append(stream.Length))
        {
            decoder.Decode(stream.AsSpan(at, cut - at), (kind, channel, eof, data) => seen.Add(new Seen(kind, channel, eof, data.ToArray())));
            at = cut;
        }
        Assert.Equal(0, decoder.BufferedBytes);
        decoder.Complete();
        return seen;
    }

    private static void AssertSame(List<Seen> expected, List<Seen> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal((expected[i].Kind, expected[i].Channel, expected[i].Eof), (actual[i].Kind, actual[i].Channel, actual[i].Eof));
            Assert.Equal(expected[i].Data, actual[i].Data);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Any_cutting_of_the_stream_gives_what_feed_and_try_decode_give(int seed)
    {
        var (stream, packets) = MixedStream(seed);
        var expected = ByTryDecode(stream);
        Assert.Equal(packets, expected.Count);

        var random = new Random(seed);
        AssertSame(expected, ByDecode(stream, []));                                           // one chunk
        AssertSame(expected, ByDecode(stream, Enumerable.Range(1, stream.Length - 1)));       // a byte at a time
        for (var round = 0; round < 20; round++)                                             // random cuts, some empty chunks
        {
            var cuts = Enumerable.Range(0, random.Next(1, 60)).Select(_ => random.Next(0, stream.Length + 1)).Order().ToList();
            AssertSame(expected, ByDecode(stream, cuts));
        }
    }

    [Fact]
    public void A_length_prefix_cut_between_chunks_is_completed_from_the_next_one()
    {
        var message = new byte[300]; // a two-byte prefix
        new Random(5).NextBytes(message);
        var bytes = new byte[400];
        var n = PacketCodec.WritePacketMsg(bytes, 0x42, true, message);
        var seen = new List<byte[]>();
        var decoder = new PacketDecoder(MaxPacket);

        decoder.Decode(bytes.AsSpan(0, 1), (_, _, _, data) => seen.Add(data.ToArray()));
        Assert.Empty(seen);
        Assert.Equal(1, decoder.BufferedBytes);
        decoder.Decode(bytes.AsSpan(1, n - 1), (_, _, _, data) => seen.Add(data.ToArray()));

        Assert.Equal(message, Assert.Single(seen));
        Assert.Equal(0, decoder.BufferedBytes);
    }

    [Fact]
    public void An_oversized_packet_fails_as_soon_as_its_prefix_is_readable_after_the_packets_before_it()
    {
        var writer = new ArrayBufferWriter<byte>();
        PacketCodec.WritePacketMsg(writer, 1, true, "before"u8);
        writer.Write<byte>([0x8b]); // first byte of uvarint 1035
        var decoder = new PacketDecoder(MaxPacket);
        var seen = new List<string>();

        decoder.Decode(writer.WrittenSpan, (_, _, _, data) => seen.Add(System.Text.Encoding.ASCII.GetString(data)));
        Assert.Equal(["before"], seen);
        var e = Assert.Throws<ProtocolViolationException>(() => decoder.Decode([0x08, 0x00], (_, _, _, _) => seen.Add("after")));
        Assert.Equal(ProtocolViolation.MessageTooLarge, e.Reason);
        Assert.Equal(["before"], seen);
    }

    [Fact]
    public void A_packet_of_none_of_the_kinds_is_malformed_and_what_came_before_it_is_handed_over()
    {
        var writer = new ArrayBufferWriter<byte>();
        writer.Write(PacketCodec.EncodedPing);
        writer.Write(Delimited([])); // an empty Packet: none of ping, pong, msg
        var kinds = new List<Packet.SumOneofCase>();

        var e = Assert.Throws<ProtocolViolationException>(() =>
            new PacketDecoder(MaxPacket).Decode(writer.WrittenSpan, (kind, _, _, _) => kinds.Add(kind)));

        Assert.Equal(ProtocolViolation.MalformedMessage, e.Reason);
        Assert.Equal([Packet.SumOneofCase.PacketPing], kinds);
    }

    /// <summary>Protobuf fields written in any order, for packets the canonical reader must leave to the general parser.</summary>
    private sealed class CodedBuilder
    {
        private readonly MemoryStream _stream = new();
        private readonly CodedOutputStream _output;

        public CodedBuilder() => _output = new CodedOutputStream(_stream);

        public CodedBuilder Varint(int field, ulong value)
        {
            _output.WriteTag(field, WireFormat.WireType.Varint);
            _output.WriteUInt64(value);
            return this;
        }

        public CodedBuilder Bytes(int field, byte[] value)
        {
            _output.WriteTag(field, WireFormat.WireType.LengthDelimited);
            _output.WriteBytes(ByteString.CopyFrom(value));
            return this;
        }

        public byte[] Build()
        {
            _output.Flush();
            return _stream.ToArray();
        }
    }
}
