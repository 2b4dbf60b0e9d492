using Google.Protobuf;
using TendermintActors.Protocol.Errors;

namespace TendermintActors.Protocol.Codec;

/// <summary>
/// Protobuf messages framed as on Tendermint's streams (Go's libs/protoio): an unsigned varint holding the byte
/// length, then the bytes. Readers always pass a maximum and the declared length is checked against it before
/// anything is allocated.
/// </summary>
public static class LengthDelimited
{
    /// <summary>Longest possible uvarint encoding of a 64-bit value.</summary>
    public const int MaxPrefixLength = 10;

    /// <summary>Length prefix plus message bytes.</summary>
    public static byte[] Encode(IMessage message)
    {
        var size = message.CalculateSize();
        var buffer = new byte[UVarint.SizeOf((ulong)size) + size];
        var written = UVarint.Write((ulong)size, buffer);
        message.WriteTo(buffer.AsSpan(written));
        return buffer;
    }

    /// <summary>Writes prefix and message into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int EncodeTo(IMessage message, Span<byte> destination)
    {
        var size = message.CalculateSize();
        var written = UVarint.Write((ulong)size, destination);
        message.WriteTo(destination.Slice(written, size));
        return written + size;
    }

    /// <summary>Encoded size of a message with its prefix.</summary>
    public static int SizeOf(IMessage message)
    {
        var size = message.CalculateSize();
        return UVarint.SizeOf((ulong)size) + size;
    }

    /// <summary>
    /// Looks for one whole message at the start of <paramref name="input"/>. Returns false when more bytes are
    /// needed. Throws <see cref="ProtocolViolationException"/> when the prefix is malformed or declares more than
    /// <paramref name="maxSize"/> bytes, as soon as the prefix is readable (never waiting for, nor allocating, the body).
    /// </summary>
    public static bool TryFrame(ReadOnlySpan<byte> input, int maxSize, out int prefixLength, out int messageLength)
    {
        messageLength = 0;
        switch (UVarint.TryRead(input, out var value, out prefixLength))
        {
            case UVarint.Status.NeedMore:
                return false;
            case UVarint.Status.Overflow:
                throw new ProtocolViolationException(ProtocolViolation.MalformedLengthPrefix,
                    "length prefix is not a valid unsigned varint (overflows 64 bits)");
        }
        if (value > (ulong)maxSize)
            throw new ProtocolViolationException(ProtocolViolation.MessageTooLarge,
                $"declared message length {value} exceeds the maximum of {maxSize} bytes");
        messageLength = (int)value;
        return input.Length - prefixLength >= messageLength;
    }

    /// <summary>Decodes a single delimited message that must occupy the whole of <paramref name="input"/>.</summary>
    public static T DecodeExact<T>(ReadOnlySpan<byte> input, MessageParser<T> parser, int maxSize) where T : IMessage<T>
    {
        if (!TryFrame(input, maxSize, out var prefix, out var length))
            throw new ProtocolViolationException(ProtocolViolation.UnexpectedEof, "input ends inside a length-delimited message");
        if (prefix + length != input.Length)
            throw new ProtocolViolationException(ProtocolViolation.MalformedMessage, "trailing bytes after a length-delimited message");
        return Parse(parser, input.Slice(prefix, length));
    }

    /// <summary>Parses a protobuf body, turning the library's exception into a typed protocol violation.</summary>
    public static T Parse<T>(MessageParser<T> parser, ReadOnlySpan<byte> body) where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolViolation.MalformedMessage,
                $"{typeof(T).Name} does not decode: {e.Message}", e);
        }
    }
}

/// <summary>Protobuf base-128 unsigned varints (Go's binary.Uvarint).</summary>
public static class UVarint
{
    public enum Status { Ok, NeedMore, Overflow }

    public static int SizeOf(ulong value)
    {
        var n = 1;
        while (value >= 0x80) { value >>= 7; n++; }
        return n;
    }

    public static int Write(ulong value, Span<byte> destination)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static Status TryRead(ReadOnlySpan<byte> input, out ulong value, out int length)
    {
        value = 0;
        length = 0;
        var shift = 0;
        for (var i = 0; i < input.Length; i++)
        {
            var b = input[i];
            if (i == LengthDelimited.MaxPrefixLength - 1 && b > 1)
                return Status.Overflow; // the tenth byte may only carry the 64th bit
            if (i >= LengthDelimited.MaxPrefixLength)
                return Status.Overflow;
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                length = i + 1;
                return Status.Ok;
            }
            shift += 7;
        }
        return Status.NeedMore;
    }
}
