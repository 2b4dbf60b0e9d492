using System.Buffers;
using Akka;
using Akka.Actor;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;
using ByteString = Akka.IO.ByteString;
using ProtoBytes = Google.Protobuf.ByteString;

namespace TendermintActors.Tests.Support;

/// <summary>
/// MConnection packets as a remote writes and reads them, built with Google.Protobuf rather than our hand encoder,
/// so that scripted remotes and wire taps do not check our code against itself.
/// </summary>
internal static class PacketWire
{
    /// <summary>A packet seen by <see cref="Tap"/>, labelled with the direction it travelled.</summary>
    public sealed record Tapped(string Direction, Packet Packet);

    /// <summary>The remote's read side ended.</summary>
    public sealed record RemoteCompleted;

    public sealed record RemoteFailed(Exception Error);

    public static int DefaultMaxPacketSize => PacketCodec.MaxPacketSize(PacketCodec.DefaultMaxPayloadSize);

    public static byte[] Ping() => PacketCodec.Encode(new Packet { PacketPing = new PacketPing() });

    public static byte[] Pong() => PacketCodec.Encode(new Packet { PacketPong = new PacketPong() });

    public static byte[] Msg(int channel, bool eof, ReadOnlySpan<byte> data) =>
        PacketCodec.Encode(new Packet { PacketMsg = new PacketMsg { ChannelId = channel, Eof = eof, Data = ProtoBytes.CopyFrom(data) } });

    /// <summary>A whole message cut into packets of at most <paramref name="payload"/> bytes, as an honest sender does.</summary>
    public static byte[] Message(byte channel, ReadOnlySpan<byte> message, int payload = PacketCodec.DefaultMaxPayloadSize)
    {
        var output = new ArrayBufferWriter<byte>();
        var offset = 0;
        do
        {
            var take = Math.Min(payload, message.Length - offset);
            var eof = offset + take == message.Length;
            output.Write(Msg(channel, eof, message.Slice(offset, take)));
            offset += take;
        } while (offset < message.Length);
        return output.WrittenSpan.ToArray();
    }

    public static ByteString Chunk(params byte[][] parts) => ByteString.FromBytes(parts.SelectMany(p => p).ToArray());

    /// <summary>Decodes a byte stream into packets (one remote's reader, with Go's default packet limit).</summary>
    public static Flow<ByteString, Packet, NotUsed> Decode(int maxPacketSize = 0) =>
        Flow.Create<ByteString>().StatefulSelectMany<ByteString, ByteString, Packet, NotUsed>(() =>
        {
            var decoder = new PacketDecoder(maxPacketSize > 0 ? maxPacketSize : DefaultMaxPacketSize);
            return bytes =>
            {
                decoder.Feed(bytes.ToArray());
                var packets = new List<Packet>();
                while (decoder.TryDecode(out var packet))
                    packets.Add(packet);
                return packets;
            };
        });

    /// <summary>A remote's read side: every packet written to it is told to <paramref name="probe"/> as a <see cref="Packet"/>.</summary>
    public static Sink<ByteString, NotUsed> ToProbe(IActorRef probe) =>
        Decode().To(Sink.ActorRef<Packet>(probe, new RemoteCompleted(), e => new RemoteFailed(e)));

    /// <summary>Passes bytes through unchanged and tells <paramref name="probe"/> every packet in them.</summary>
    public static Flow<ByteString, ByteString, NotUsed> Tap(IActorRef probe, string direction)
    {
        var decoder = new PacketDecoder(4 * DefaultMaxPacketSize);
        return Flow.Create<ByteString>().Select(bytes =>
        {
            decoder.Feed(bytes.ToArray());
            while (decoder.TryDecode(out var packet))
                probe.Tell(new Tapped(direction, packet));
            return bytes;
        });
    }

    /// <summary>Every packet in one written element.</summary>
    public static List<Packet> Packets(ByteString bytes, int maxPacketSize = 0)
    {
        var decoder = new PacketDecoder(maxPacketSize > 0 ? maxPacketSize : DefaultMaxPacketSize);
        decoder.Feed(bytes.ToArray());
        var packets = new List<Packet>();
        while (decoder.TryDecode(out var packet))
            packets.Add(packet);
        Assert.Equal(0, decoder.BufferedBytes);
        return packets;
    }
}
