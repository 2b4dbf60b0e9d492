using System.Buffers;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.Tests.MConnection;

/// <summary>Scheduler, codec and reassembler together: what one side sends is what the other side's reactors get.</summary>
public class FragmentationTests
{
    private static byte[] RandomMessage(Random rng, int length)
    {
        var m = new byte[length];
        rng.NextBytes(m);
        return m;
    }

    [Fact]
    public void Fragments_of_one_channel_never_interleave_while_channels_do()
    {
        var rng = new Random(42);
        ChannelDescriptor[] channels =
        [
            new(0x20, 6) { SendQueueCapacity = 10 },
            new(0x21, 10) { SendQueueCapacity = 10 },
            new(0x40, 5) { SendQueueCapacity = 10 },
            new(0x00, 1) { SendQueueCapacity = 10 },
        ];
        var scheduler = new SendScheduler(channels);
        var reassembler = new Reassembler(channels);

        var sent = channels.ToDictionary(c => c.Id, _ => new List<byte[]>());
        int[] sizes = [5000, 1, 3072, 0, 2049, 1024, 7000];
        foreach (var c in channels)
            for (var i = 0; i < 8; i++)
            {
                var m = RandomMessage(rng, sizes[(i + c.Id) % sizes.Length]);
                Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(c.Id, m));
                sent[c.Id].Add(m);
            }

        var packets = new List<PacketMsgFragment>();
        var received = channels.ToDictionary(c => c.Id, _ => new List<byte[]>());
        while (scheduler.TryNextPacket(out var f))
        {
            packets.Add(f);
            if (reassembler.Accept(f.ToPacketMsg()) is { } message)
                received[f.ChannelId].Add(message);
        }

        foreach (var c in channels)
        {
            // Every message arrives intact and in order.
            Assert.Equal(sent[c.Id], received[c.Id]);

            // The channel's packets are exactly message 1's fragments up to its eof, then message 2's, and so on.
            var expected = sent[c.Id].SelectMany(m => Fragments(m, 1024)).ToList();
            var actual = packets.Where(p => p.ChannelId == c.Id).Select(p => (p.Data.ToArray(), p.Eof)).ToList();
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].Eof, actual[i].Eof);
                Assert.Equal(expected[i].Data, actual[i].Item1);
            }
        }

        // And the test is not vacuous: other channels' packets did come between fragments of one message.
        var interleaved = 0;
        for (var i = 1; i < packets.Count - 1; i++)
            if (!packets[i - 1].Eof && packets[i].ChannelId != packets[i - 1].ChannelId)
                interleaved++;
        Assert.True(interleaved > 10, $"only {interleaved} interleavings");
    }

    private static IEnumerable<(byte[] Data, bool Eof)> Fragments(byte[] message, int max)
    {
        if (message.Length == 0)
        {
            yield return ([], true);
            yield break;
        }
        for (var offset = 0; offset < message.Length; offset += max)
        {
            var n = Math.Min(max, message.Length - offset);
            yield return (message.AsSpan(offset, n).ToArray(), offset + n == message.Length);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Messages_survive_scheduler_codec_chunked_decoder_and_reassembler(int seed)
    {
        var rng = new Random(seed);
        ChannelDescriptor[] channels =
        [
            new(0x01, 1) { SendQueueCapacity = 8, RecvMessageCapacity = 8 << 20 },
            new(0x22, 7) { SendQueueCapacity = 8 },
            new(0x90, 3) { SendQueueCapacity = 8 }, // a two-byte channel varint
        ];
        int[] sizes = [0, 1, 1024, 1025, 4 << 20];
        var scheduler = new SendScheduler(channels);
        var expected = channels.ToDictionary(c => c.Id, _ => new List<byte[]>());
        foreach (var size in sizes)
        {
            var m = RandomMessage(rng, size);
            Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0x01, m));
            expected[0x01].Add(m);
        }
        foreach (var size in sizes[..4])
            foreach (var id in new byte[] { 0x22, 0x90 })
            {
                var m = RandomMessage(rng, size);
                Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(id, m));
                expected[id].Add(m);
            }

        // Sender: packets on a byte stream, with pings and pongs between some of them.
        var wire = new ArrayBufferWriter<byte>();
        var packets = 0;
        while (scheduler.TryNextPacket(out var f))
        {
            f.WriteTo(wire);
            if (++packets % 997 == 0) wire.Write(PacketCodec.EncodedPing);
            if (packets % 1499 == 0) wire.Write(PacketCodec.EncodedPong);
        }
        Assert.Equal(0, scheduler.PendingBytes);

        // Receiver: the stream in chunks of random sizes, as TCP and SecretConnection frames deliver it.
        var decoder = new PacketDecoder(PacketCodec.MaxPacketSize(PacketCodec.DefaultMaxPayloadSize));
        var reassembler = new Reassembler(channels);
        var received = channels.ToDictionary(c => c.Id, _ => new List<byte[]>());
        var controls = 0;
        var bytes = wire.WrittenMemory;
        for (var offset = 0; offset < bytes.Length;)
        {
            var n = Math.Min(bytes.Length - offset, rng.Next(4) == 0 ? rng.Next(1, 8) : rng.Next(1, 5000));
            decoder.Feed(bytes.Span.Slice(offset, n));
            offset += n;
            while (decoder.TryDecode(out var packet))
            {
                if (packet.SumCase != Packet.SumOneofCase.PacketMsg) { controls++; continue; }
                if (reassembler.Accept(packet.PacketMsg) is { } message)
                    received[(byte)packet.PacketMsg.ChannelId].Add(message);
            }
        }
        decoder.Complete();

        Assert.Equal(packets / 997 + packets / 1499, controls);
        foreach (var c in channels)
        {
            Assert.Equal(expected[c.Id].Count, received[c.Id].Count);
            for (var i = 0; i < expected[c.Id].Count; i++)
                Assert.True(expected[c.Id][i].AsSpan().SequenceEqual(received[c.Id][i]),
                    $"channel 0x{c.Id:x2} message {i} ({expected[c.Id][i].Length} bytes) differs");
        }
    }
}
