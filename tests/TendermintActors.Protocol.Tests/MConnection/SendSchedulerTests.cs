using System.Runtime.InteropServices;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.Tests.MConnection;

public class SendSchedulerTests
{
    private static ChannelDescriptor Ch(byte id, int priority, int queue = 1) => new(id, priority) { SendQueueCapacity = queue };

    /// <summary>
    /// Keeps every channel's queue full of <paramref name="messageSize"/>-byte messages, takes
    /// <paramref name="packets"/> packets (decaying every <paramref name="decayEvery"/>, standing in for the 2 s tick)
    /// and returns the data bytes each channel got.
    /// </summary>
    private static Dictionary<byte, long> Saturate(ChannelDescriptor[] channels, int packets, int decayEvery, int messageSize = 10_000)
    {
        var scheduler = new SendScheduler(channels);
        var message = new byte[messageSize];
        var sent = channels.ToDictionary(c => c.Id, _ => 0L);
        for (var i = 0; i < packets; i++)
        {
            foreach (var c in channels)
                while (scheduler.TryEnqueue(c.Id, message) == EnqueueResult.Accepted) { }
            Assert.True(scheduler.TryNextPacket(out var fragment));
            sent[fragment.ChannelId] += fragment.Data.Length;
            if (i % decayEvery == decayEvery - 1)
                scheduler.Decay();
        }
        return sent;
    }

    [Theory]
    [InlineData(50)]
    [InlineData(500)]
    public void Under_saturation_each_channel_gets_bandwidth_in_proportion_to_its_priority(int decayEvery)
    {
        ChannelDescriptor[] channels = [Ch(0x01, 1, queue: 3), Ch(0x02, 3, queue: 3), Ch(0x03, 6, queue: 3)];
        var sent = Saturate(channels, packets: 30_000, decayEvery);

        var total = (double)sent.Values.Sum();
        foreach (var c in channels)
        {
            var share = sent[c.Id] / total;
            var expected = c.Priority / 10.0;
            Assert.True(Math.Abs(share - expected) <= 0.10 * expected,
                $"channel {c.Id} (priority {c.Priority}) got {share:P2} of the bytes, expected {expected:P0} ± 10%");
        }
    }

    [Fact]
    public void Under_saturation_channels_of_equal_priority_share_equally()
    {
        ChannelDescriptor[] channels = [Ch(0x10, 5, queue: 2), Ch(0x20, 5, queue: 2), Ch(0x30, 5, queue: 2)];
        var sent = Saturate(channels, packets: 9_000, decayEvery: 100, messageSize: 3_000);

        var total = (double)sent.Values.Sum();
        foreach (var c in channels)
        {
            var share = sent[c.Id] / total;
            Assert.True(Math.Abs(share - 1.0 / 3) <= 0.10 / 3, $"channel {c.Id} got {share:P2}, expected 33.3% ± 10%");
        }
    }

    [Fact]
    public void Picks_the_least_recently_sent_over_priority_and_breaks_ties_by_descriptor_order()
    {
        var scheduler = new SendScheduler([Ch(0x0a, 1, queue: 10), Ch(0x0b, 2, queue: 10)]);
        var message = new byte[100];
        for (var i = 0; i < 7; i++)
        {
            scheduler.TryEnqueue(0x0a, message);
            scheduler.TryEnqueue(0x0b, message);
        }
        // Every packet costs the same s bytes. Ratios (a, b): (0,0) tie → a; (s,0) → b; (s,s/2) → b; (s,s) tie → a ...
        var order = new List<byte>();
        for (var i = 0; i < 6; i++)
        {
            Assert.True(scheduler.TryNextPacket(out var f));
            order.Add(f.ChannelId);
        }
        Assert.Equal(new byte[] { 0x0a, 0x0b, 0x0b, 0x0a, 0x0b, 0x0b }, order);
    }

    [Fact]
    public void RecentlySent_counts_whole_packets_on_the_wire_and_decays_by_four_fifths()
    {
        var scheduler = new SendScheduler([Ch(0x30, 5, queue: 3)]);
        scheduler.TryEnqueue(0x30, new byte[1500]);
        Assert.True(scheduler.TryNextPacket(out var first));
        Assert.True(scheduler.TryNextPacket(out var second));
        var expected = first.EncodedSize + second.EncodedSize; // what Go adds: the delimited packet's size
        Assert.Equal(1024 + 476, first.Data.Length + second.Data.Length);
        Assert.Equal(expected, scheduler.GetStatus(0x30)!.Value.RecentlySent);

        scheduler.Decay();
        Assert.Equal((long)(expected * 0.8), scheduler.GetStatus(0x30)!.Value.RecentlySent);
        scheduler.Decay();
        Assert.Equal((long)((long)(expected * 0.8) * 0.8), scheduler.GetStatus(0x30)!.Value.RecentlySent);
    }

    [Fact]
    public void Fully_decayed_once_every_channels_recently_sent_count_is_zero()
    {
        var scheduler = new SendScheduler([Ch(0x30, 5, queue: 3), Ch(0x31, 1, queue: 3)]);
        Assert.True(scheduler.FullyDecayed); // nothing sent yet
        scheduler.TryEnqueue(0x30, new byte[10]);
        Assert.True(scheduler.TryNextPacket(out var packet));
        Assert.False(scheduler.FullyDecayed);

        var decays = 0;
        while (!scheduler.FullyDecayed)
        {
            scheduler.Decay();
            decays++;
        }
        // A packet of EncodedSize bytes takes as many four-fifths steps as it takes to truncate to 0.
        var expected = 0;
        for (long left = packet.EncodedSize; left > 0; left = (long)(left * 0.8))
            expected++;
        Assert.Equal(expected, decays);
        Assert.Equal(0, scheduler.GetStatus(0x30)!.Value.RecentlySent);
    }

    [Fact]
    public void Quiet_packets_come_only_from_channels_under_one_packet_of_bytes_since_the_period_started()
    {
        var scheduler = new SendScheduler([Ch(0x01, 1, queue: 5), Ch(0x02, 5, queue: 5)]);
        Assert.False(scheduler.TryNextQuietPacket(out _)); // nothing pending
        scheduler.TryEnqueue(0x01, new byte[3000]);
        Assert.True(scheduler.TryNextPacket(out var bulk)); // 0x01 has now sent a full packet this period
        Assert.Equal(0x01, bulk.ChannelId);
        Assert.False(scheduler.TryNextQuietPacket(out _));

        // A quiet channel goes even though its ratio is not the least; small packets count until one packet's worth.
        scheduler.TryEnqueue(0x02, new byte[10]);
        scheduler.TryEnqueue(0x02, new byte[2000]);
        Assert.True(scheduler.TryNextQuietPacket(out var vote));
        Assert.Equal((byte)0x02, vote.ChannelId);
        Assert.Equal(10, vote.Data.Length);
        Assert.True(scheduler.TryNextQuietPacket(out var next)); // 10 bytes so far: still quiet
        Assert.Equal((byte)0x02, next.ChannelId);
        Assert.Equal(1024, next.Data.Length);
        Assert.False(scheduler.TryNextQuietPacket(out _)); // over one packet's worth now

        // A new period makes every channel quiet again; the choice among them follows recentlySent / priority.
        scheduler.StartQuietPeriod();
        Assert.True(scheduler.TryNextQuietPacket(out var again));
        Assert.Equal((byte)0x02, again.ChannelId); // 0x02: ~1.1 KB / 5 beats 0x01: ~1 KB / 1
        Assert.True(scheduler.TryNextQuietPacket(out var first));
        Assert.Equal((byte)0x01, first.ChannelId);
    }

    [Fact]
    public void A_message_is_cut_into_full_fragments_with_eof_on_the_last_and_data_sliced_not_copied()
    {
        var scheduler = new SendScheduler([Ch(0x21, 10)]);
        var message = new byte[2500];
        new Random(7).NextBytes(message);
        Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0x21, message));

        var lengths = new List<int>();
        var offset = 0;
        while (scheduler.TryNextPacket(out var f))
        {
            Assert.True(MemoryMarshal.TryGetArray(f.Data, out var segment));
            Assert.Same(message, segment.Array);
            Assert.Equal(offset, segment.Offset);
            offset += f.Data.Length;
            lengths.Add(f.Data.Length);
            Assert.Equal(offset == message.Length, f.Eof);
        }
        Assert.Equal([1024, 1024, 452], lengths);
        Assert.False(scheduler.HasPending);
    }

    [Fact]
    public void An_empty_message_is_one_eof_packet_without_data()
    {
        var scheduler = new SendScheduler([Ch(0x00, 1)]);
        scheduler.TryEnqueue(0x00, ReadOnlyMemory<byte>.Empty);
        Assert.True(scheduler.HasPending);
        Assert.True(scheduler.TryNextPacket(out var f));
        Assert.True(f.Eof);
        Assert.Equal(0, f.Data.Length);
        Assert.False(scheduler.HasPending);
        Assert.False(scheduler.TryNextPacket(out _));
    }

    [Fact]
    public void A_smaller_payload_size_cuts_smaller_fragments()
    {
        var scheduler = new SendScheduler([Ch(0x01, 1)], maxPacketPayloadSize: 100);
        scheduler.TryEnqueue(0x01, new byte[250]);
        var lengths = new List<int>();
        while (scheduler.TryNextPacket(out var f)) lengths.Add(f.Data.Length);
        Assert.Equal([100, 100, 50], lengths);
    }

    [Fact]
    public void TryEnqueue_admits_the_queue_capacity_behind_the_message_being_sent_then_says_full()
    {
        var scheduler = new SendScheduler([Ch(0x40, 5, queue: 2)]);
        var m = new byte[3000];
        Assert.True(scheduler.CanEnqueue(0x40));
        Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0x40, m)); // becomes the current message
        Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0x40, m));
        Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0x40, m));
        Assert.False(scheduler.CanEnqueue(0x40));
        Assert.Equal(EnqueueResult.QueueFull, scheduler.TryEnqueue(0x40, m));

        var status = scheduler.GetStatus(0x40)!.Value;
        Assert.Equal(3, status.QueueSize);
        Assert.Equal(9000, status.PendingBytes);
        Assert.Equal(9000, scheduler.PendingBytes);

        // Cutting fragments of the current message frees nothing; its last fragment frees one slot.
        Assert.True(scheduler.TryNextPacket(out _));
        Assert.True(scheduler.TryNextPacket(out _));
        Assert.Equal(EnqueueResult.QueueFull, scheduler.TryEnqueue(0x40, m));
        Assert.True(scheduler.TryNextPacket(out var last));
        Assert.True(last.Eof);
        Assert.Equal(2, scheduler.GetStatus(0x40)!.Value.QueueSize);
        Assert.Equal(6000, scheduler.PendingBytes);
        Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0x40, m));
        Assert.Equal(EnqueueResult.QueueFull, scheduler.TryEnqueue(0x40, m));
    }

    [Fact]
    public void A_full_channel_does_not_stop_another_from_accepting()
    {
        var scheduler = new SendScheduler([Ch(0x01, 1), Ch(0x02, 1)]);
        scheduler.TryEnqueue(0x01, new byte[1]);
        scheduler.TryEnqueue(0x01, new byte[1]);
        Assert.Equal(EnqueueResult.QueueFull, scheduler.TryEnqueue(0x01, new byte[1]));
        Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0x02, new byte[1]));
    }

    [Fact]
    public void Enqueue_on_an_undeclared_channel_is_refused()
    {
        var scheduler = new SendScheduler([Ch(0x01, 1)]);
        Assert.Equal(EnqueueResult.UnknownChannel, scheduler.TryEnqueue(0x02, new byte[1]));
        Assert.False(scheduler.CanEnqueue(0x02));
        Assert.False(scheduler.HasChannel(0x02));
        Assert.Null(scheduler.GetStatus(0x02));
        Assert.False(scheduler.HasPending);
    }

    [Fact]
    public void Status_lists_every_channel_in_descriptor_order()
    {
        var scheduler = new SendScheduler([Ch(0x30, 5, queue: 4), Ch(0x20, 6)]);
        scheduler.TryEnqueue(0x30, new byte[10]);
        scheduler.TryEnqueue(0x30, new byte[20]);
        var status = scheduler.GetStatus();
        Assert.Equal(2, status.Length);
        Assert.Equal(new ChannelSendStatus(0x30, 5, 4, 2, 0, 30), status[0]);
        Assert.Equal(new ChannelSendStatus(0x20, 6, 1, 0, 0, 0), status[1]);
    }

    [Fact]
    public void Invalid_or_duplicate_descriptors_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new SendScheduler([Ch(0x01, 1), Ch(0x01, 2)]));
        Assert.Throws<ArgumentException>(() => new SendScheduler([Ch(0x01, 0)]));
        Assert.Throws<ArgumentException>(() => new SendScheduler([Ch(0x01, 1, queue: 0)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SendScheduler([Ch(0x01, 1)], maxPacketPayloadSize: 0));
    }

    [Theory]
    [InlineData(0x80)]
    [InlineData(0xff)]
    public void A_full_last_fragment_on_a_channel_over_0x7f_is_followed_by_an_empty_eof_packet(byte channel)
    {
        // With eof, such a fragment would encode one byte over the reader's limit of 1034 (see PacketCodecTests).
        var scheduler = new SendScheduler([Ch(channel, 1)]);
        scheduler.TryEnqueue(channel, new byte[1024]);
        Assert.True(scheduler.TryNextPacket(out var full));
        Assert.True(scheduler.TryNextPacket(out var end));
        Assert.False(scheduler.TryNextPacket(out _));
        Assert.Equal((1024, false), (full.Data.Length, full.Eof));
        Assert.Equal((0, true), (end.Data.Length, end.Eof));
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(1)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(1400)]
    public void Every_packet_fits_the_go_reader_limit_on_every_channel(int payload)
    {
        var limit = PacketCodec.MaxPacketSize(payload);
        for (var id = 0; id < 256; id++)
        {
            var channel = (byte)id;
            var scheduler = new SendScheduler([Ch(channel, 1, queue: 8)], payload);
            int[] lengths = [0, 1, payload - 1, payload, payload + 1, 2 * payload, 2 * payload + 1];
            var reassembler = new Reassembler([new ChannelDescriptor(channel, 1)]);
            foreach (var length in lengths.Where(l => l >= 0))
            {
                var message = Enumerable.Range(0, length).Select(i => (byte)(i * 7 + id)).ToArray();
                Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(channel, message));
                byte[]? received = null;
                while (received is null && scheduler.TryNextPacket(out var f))
                {
                    var body = new Packet { PacketMsg = f.ToPacketMsg() }.CalculateSize();
                    Assert.True(body <= limit, $"channel 0x{id:x2}, message {length}: packet of {body} bytes exceeds {limit}");
                    Assert.True(f.Data.Length <= payload);
                    received = reassembler.Accept(channel, f.Eof, f.Data.Span);
                }
                Assert.Equal(message, received);
            }
        }
    }
}
