using System.Buffers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.Tests.MConnection;

public class PacketCodecTests
{
    private static JsonElement ProtobufVector(string name)
    {
        foreach (var v in VectorFiles.Json("tendermint-v0.34.24-vectors.json").GetProperty("protobuf").EnumerateArray())
            if (v.Str("name") == name)
                return v;
        throw new ArgumentException($"no protobuf vector {name}");
    }

    private static Packet DecodeOne(ReadOnlySpan<byte> bytes, int maxPacketSize = 1034)
    {
        var decoder = new PacketDecoder(maxPacketSize);
        decoder.Feed(bytes);
        Assert.True(decoder.TryDecode(out var packet));
        Assert.False(decoder.TryDecode(out _));
        Assert.Equal(0, decoder.BufferedBytes);
        return packet;
    }

    private static byte[] Delimited(params byte[] body)
    {
        var prefix = new byte[LengthDelimited.MaxPrefixLength];
        var n = UVarint.Write((ulong)body.Length, prefix);
        return [.. prefix.AsSpan(0, n), .. body];
    }

    [Fact]
    public void Ping_and_pong_encode_as_the_go_vectors()
    {
        var ping = ProtobufVector("packet_ping").Hex("delimited_hex");
        var pong = ProtobufVector("packet_pong").Hex("delimited_hex");
        Assert.Equal(ping, PacketCodec.EncodedPing.ToArray());
        Assert.Equal(pong, PacketCodec.EncodedPong.ToArray());
        Assert.Equal(ping, PacketCodec.Encode(new Packet { PacketPing = new PacketPing() }));
        Assert.Equal(pong, PacketCodec.Encode(new Packet { PacketPong = new PacketPong() }));
        Assert.Equal(Packet.SumOneofCase.PacketPing, DecodeOne(ping).SumCase);
        Assert.Equal(Packet.SumOneofCase.PacketPong, DecodeOne(pong).SumCase);
    }

    [Fact]
    public void Packet_msg_encodes_as_the_go_vector_by_hand_and_through_protobuf()
    {
        var vector = ProtobufVector("packet_msg_0x42_eof_hello");
        var expected = vector.Hex("delimited_hex");
        var hello = Encoding.ASCII.GetBytes("hello");

        var buffer = new byte[64];
        var written = PacketCodec.WritePacketMsg(buffer, 0x42, eof: true, hello);
        Assert.Equal(expected, buffer[..written]);
        Assert.Equal(expected.Length, PacketCodec.SizeOfPacketMsg(0x42, true, hello.Length));

        var writer = new ArrayBufferWriter<byte>();
        new PacketMsgFragment(0x42, true, hello).WriteTo(writer);
        Assert.Equal(expected, writer.WrittenSpan.ToArray());

        var viaProtobuf = PacketCodec.Encode(new Packet { PacketMsg = new PacketMsg { ChannelId = 0x42, Eof = true, Data = ByteString.CopyFrom(hello) } });
        Assert.Equal(expected, viaProtobuf);
        Assert.Equal(vector.Hex("raw_hex"), viaProtobuf[1..]);

        var decoded = DecodeOne(expected);
        Assert.Equal(0x42, decoded.PacketMsg.ChannelId);
        Assert.True(decoded.PacketMsg.Eof);
        Assert.Equal(hello, decoded.PacketMsg.Data.ToByteArray());
    }

    [Fact]
    public void Max_packet_size_for_a_1024_byte_payload_is_1034()
    {
        Assert.Equal(1034, PacketCodec.MaxPacketSize(1024));
        Assert.Equal(1034, PacketCodec.MaxPacketSize(PacketCodec.DefaultMaxPayloadSize));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(1024)]
    [InlineData(1400)]
    [InlineData(16384)]
    [InlineData(1 << 20)]
    public void Max_packet_size_is_the_protobuf_size_of_a_full_eof_packet_on_channel_1(int payload)
    {
        var packet = new Packet { PacketMsg = new PacketMsg { ChannelId = 1, Eof = true, Data = ByteString.CopyFrom(new byte[payload]) } };
        Assert.Equal(packet.CalculateSize(), PacketCodec.MaxPacketSize(payload));
    }

    [Fact]
    public void Hand_encoding_matches_google_protobuf_for_random_packets()
    {
        var rng = new Random(1234);
        int[] edgeLengths = [0, 1, 127, 128, 1023, 1024, 1025, 16383, 16384];
        var buffer = new byte[70_000];
        var writer = new ArrayBufferWriter<byte>();
        for (var i = 0; i < 3000; i++)
        {
            var channel = (byte)(i < 512 ? i % 256 : rng.Next(256));
            var eof = rng.Next(2) == 0;
            var length = i % 3 == 0 ? edgeLengths[rng.Next(edgeLengths.Length)] : rng.Next(70_000 - 16);
            var data = new byte[length];
            rng.NextBytes(data);

            var expected = LengthDelimited.Encode(new Packet
            {
                PacketMsg = new PacketMsg { ChannelId = channel, Eof = eof, Data = ByteString.CopyFrom(data) },
            });
            var written = PacketCodec.WritePacketMsg(buffer, channel, eof, data);
            Assert.Equal(expected, buffer[..written]);
            Assert.Equal(expected.Length, PacketCodec.SizeOfPacketMsg(channel, eof, length));

            writer.Clear();
            PacketCodec.WritePacketMsg(writer, channel, eof, data);
            Assert.True(expected.AsSpan().SequenceEqual(writer.WrittenSpan));
        }
    }

    [Fact]
    public void Writing_into_too_small_a_destination_throws_without_writing_past_it()
    {
        var buffer = new byte[10];
        Assert.Throws<ArgumentException>(() => PacketCodec.WritePacketMsg(buffer, 1, true, new byte[8]));
    }

    [Fact]
    public void Decoder_takes_a_packet_one_byte_at_a_time()
    {
        var bytes = ProtobufVector("packet_msg_0x42_eof_hello").Hex("delimited_hex");
        var decoder = new PacketDecoder(1034);
        for (var i = 0; i < bytes.Length - 1; i++)
        {
            decoder.Feed(bytes.AsSpan(i, 1));
            Assert.False(decoder.TryDecode(out _));
        }
        decoder.Feed(bytes.AsSpan(^1));
        Assert.True(decoder.TryDecode(out var packet));
        Assert.Equal("hello", packet.PacketMsg.Data.ToStringUtf8());
        decoder.Complete();
    }

    [Fact]
    public void Decoder_returns_every_packet_of_one_large_chunk_in_order()
    {
        var writer = new ArrayBufferWriter<byte>();
        for (var i = 0; i < 100; i++)
        {
            PacketCodec.WritePacketMsg(writer, (byte)i, i % 2 == 0, new byte[i * 10]);
            writer.Write(PacketCodec.EncodedPing);
        }
        var decoder = new PacketDecoder(1034);
        decoder.Feed(writer.WrittenSpan);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(decoder.TryDecode(out var msg));
            Assert.Equal(i, msg.PacketMsg.ChannelId);
            Assert.Equal(i % 2 == 0, msg.PacketMsg.Eof);
            Assert.Equal(i * 10, msg.PacketMsg.Data.Length);
            Assert.True(decoder.TryDecode(out var ping));
            Assert.Equal(Packet.SumOneofCase.PacketPing, ping.SumCase);
        }
        Assert.False(decoder.TryDecode(out _));
        Assert.Equal(0, decoder.BufferedBytes);
    }

    [Fact]
    public void A_packet_of_exactly_the_maximum_size_is_accepted()
    {
        var bytes = new byte[1100];
        var n = PacketCodec.WritePacketMsg(bytes, 1, true, new byte[1024]);
        Assert.Equal(1034 + 2, n);
        Assert.Equal(1024, DecodeOne(bytes.AsSpan(0, n)).PacketMsg.Data.Length);
    }

    [Fact]
    public void A_packet_over_the_maximum_fails_as_soon_as_its_length_prefix_arrives()
    {
        var decoder = new PacketDecoder(1034);
        decoder.Feed([0x8b]); // first byte of uvarint 1035
        Assert.False(decoder.TryDecode(out _));
        decoder.Feed([0x08]);
        var e = Assert.Throws<ProtocolViolationException>(() => decoder.TryDecode(out _));
        Assert.Equal(ProtocolViolation.MessageTooLarge, e.Reason);
    }

    [Fact]
    public void A_huge_declared_length_fails_before_anything_is_allocated_for_it()
    {
        var decoder = new PacketDecoder(1034);
        decoder.Feed([0xff, 0xff, 0xff, 0xff, 0x0f]); // 4 GiB - 1
        var e = Assert.Throws<ProtocolViolationException>(() => decoder.TryDecode(out _));
        Assert.Equal(ProtocolViolation.MessageTooLarge, e.Reason);
    }

    [Fact]
    public void A_full_eof_payload_on_a_channel_over_0x7f_exceeds_the_go_limit()
    {
        // Why SendScheduler defers eof for such channels: Go's reader would reject this packet, and so do we.
        var bytes = new byte[1100];
        var n = PacketCodec.WritePacketMsg(bytes, 0x80, true, new byte[1024]);
        var decoder = new PacketDecoder(PacketCodec.MaxPacketSize(1024));
        decoder.Feed(bytes.AsSpan(0, n));
        var e = Assert.Throws<ProtocolViolationException>(() => decoder.TryDecode(out _));
        Assert.Equal(ProtocolViolation.MessageTooLarge, e.Reason);
    }

    [Fact]
    public void A_malformed_length_prefix_is_reported_as_such()
    {
        var decoder = new PacketDecoder(1034);
        decoder.Feed(Enumerable.Repeat((byte)0xff, 11).ToArray());
        var e = Assert.Throws<ProtocolViolationException>(() => decoder.TryDecode(out _));
        Assert.Equal(ProtocolViolation.MalformedLengthPrefix, e.Reason);
    }

    public static IEnumerable<object[]> GarbageBodies() =>
    [
        [new byte[] { 0x00 }],                          // field number 0
        [new byte[] { 0x1a, 0x05, 0x08 }],              // packet_msg claims 5 bytes, has 1
        [new byte[] { 0x1a, 0x03, 0x1a, 0x09, 0x00 }],  // data inside packet_msg overruns it
        [new byte[] { 0x0f }],                          // wire type 7 does not exist
        [new byte[] { 0x1a, 0x02, 0x08, 0x80 }],        // varint cut short inside packet_msg
    ];

    [Theory]
    [MemberData(nameof(GarbageBodies))]
    public void A_body_that_does_not_decode_is_a_malformed_message(byte[] body)
    {
        var decoder = new PacketDecoder(1034);
        decoder.Feed(Delimited(body));
        var e = Assert.Throws<ProtocolViolationException>(() => decoder.TryDecode(out _));
        Assert.Equal(ProtocolViolation.MalformedMessage, e.Reason);
    }

    [Theory]
    [InlineData(new byte[0])]                 // an empty Packet
    [InlineData(new byte[] { 0x20, 0x01 })]   // only an unknown field
    public void A_packet_with_no_ping_pong_or_msg_is_a_malformed_message(byte[] body)
    {
        var decoder = new PacketDecoder(1034);
        decoder.Feed(Delimited(body));
        var e = Assert.Throws<ProtocolViolationException>(() => decoder.TryDecode(out _));
        Assert.Equal(ProtocolViolation.MalformedMessage, e.Reason);
    }

    [Fact]
    public void Completing_inside_a_packet_is_an_unexpected_eof()
    {
        var decoder = new PacketDecoder(1034);
        decoder.Feed(PacketCodec.EncodedPing[..2]);
        Assert.False(decoder.TryDecode(out _));
        var e = Assert.Throws<ProtocolViolationException>(decoder.Complete);
        Assert.Equal(ProtocolViolation.UnexpectedEof, e.Reason);
    }

    [Fact]
    public void Completing_between_packets_is_fine()
    {
        var decoder = new PacketDecoder(1034);
        decoder.Feed(PacketCodec.EncodedPong);
        Assert.True(decoder.TryDecode(out _));
        decoder.Complete();
    }
}
