using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;

namespace TendermintActors.Protocol.Tests.Codec;

public class LengthDelimitedTests
{
    [Theory]
    [InlineData(0UL, "00")]
    [InlineData(1UL, "01")]
    [InlineData(127UL, "7f")]
    [InlineData(128UL, "8001")]
    [InlineData(300UL, "ac02")]
    [InlineData(ulong.MaxValue, "ffffffffffffffffff01")]
    public void Uvarint_round_trips_like_protobuf(ulong value, string hex)
    {
        var buffer = new byte[10];
        var n = UVarint.Write(value, buffer);
        Assert.Equal(hex, Convert.ToHexStringLower(buffer.AsSpan(0, n)));
        Assert.Equal(n, UVarint.SizeOf(value));
        Assert.Equal(UVarint.Status.Ok, UVarint.TryRead(buffer.AsSpan(0, n), out var read, out var length));
        Assert.Equal(value, read);
        Assert.Equal(n, length);
    }

    [Fact]
    public void Incomplete_prefix_asks_for_more()
    {
        Assert.Equal(UVarint.Status.NeedMore, UVarint.TryRead([0x80, 0x80], out _, out _));
        Assert.False(LengthDelimited.TryFrame([0x80], 100, out _, out _));
    }

    [Fact]
    public void Prefix_longer_than_ten_bytes_is_malformed()
    {
        var bytes = Enumerable.Repeat((byte)0xff, 11).ToArray();
        var e = Assert.Throws<ProtocolViolationException>(() => LengthDelimited.TryFrame(bytes, int.MaxValue, out _, out _));
        Assert.Equal(ProtocolViolation.MalformedLengthPrefix, e.Reason);
    }

    [Fact]
    public void Declared_length_over_the_maximum_fails_before_the_body_arrives()
    {
        // Only the prefix (1 GiB) is present: the reader must refuse without waiting for, or allocating, the body.
        var prefix = new byte[10];
        var n = UVarint.Write(1UL << 30, prefix);
        var e = Assert.Throws<ProtocolViolationException>(() => LengthDelimited.TryFrame(prefix.AsSpan(0, n), 1024, out _, out _));
        Assert.Equal(ProtocolViolation.MessageTooLarge, e.Reason);
    }

    [Fact]
    public void Length_exactly_at_the_maximum_is_accepted()
    {
        var message = new BytesValue { Value = ByteString.CopyFrom(new byte[98]) }; // 100-byte body
        var encoded = LengthDelimited.Encode(message);
        Assert.True(LengthDelimited.TryFrame(encoded, 100, out var prefix, out var length));
        Assert.Equal(100, length);
        Assert.Equal(message, LengthDelimited.Parse(BytesValue.Parser, encoded.AsSpan(prefix, length)));
        Assert.Throws<ProtocolViolationException>(() => LengthDelimited.TryFrame(encoded, 99, out _, out _));
    }

    [Fact]
    public void Partial_body_asks_for_more()
    {
        var encoded = LengthDelimited.Encode(new BytesValue { Value = ByteString.CopyFromUtf8("hello") });
        for (var i = 0; i < encoded.Length; i++)
            Assert.False(LengthDelimited.TryFrame(encoded.AsSpan(0, i), 100, out _, out _));
        Assert.True(LengthDelimited.TryFrame(encoded, 100, out _, out _));
    }

    [Fact]
    public void Undecodable_body_is_a_typed_error()
    {
        var e = Assert.Throws<ProtocolViolationException>(() => LengthDelimited.DecodeExact([0x02, 0x0a, 0x05], BytesValue.Parser, 100));
        Assert.Equal(ProtocolViolation.MalformedMessage, e.Reason);
    }

    [Fact]
    public void Encode_to_span_matches_encode()
    {
        var message = new BytesValue { Value = ByteString.CopyFrom(new byte[300]) };
        var buffer = new byte[LengthDelimited.SizeOf(message)];
        Assert.Equal(buffer.Length, LengthDelimited.EncodeTo(message, buffer));
        Assert.Equal(LengthDelimited.Encode(message), buffer);
    }
}
