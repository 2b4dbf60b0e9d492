using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Protocol.Tests.MConnection;

/// <summary>
/// The send scheduler's strategies (<see cref="SendQueueType"/>): how saturated channels share the connection,
/// that no backlogged channel starves, and that every strategy keeps each channel's messages whole and in order.
/// </summary>
public class SendQueueTypeTests
{
    private static ChannelDescriptor Ch(byte id, int priority, int queue = 4) => new(id, priority) { SendQueueCapacity = queue };

    public static TheoryData<SendQueueType> AllTypes => [SendQueueType.Priority, SendQueueType.Fifo, SendQueueType.Wdrr];

    /// <summary>Keeps every queue full and returns the data bytes each channel got over <paramref name="packets"/> packets.</summary>
    private static Dictionary<byte, long> Saturate(SendQueueType type, ChannelDescriptor[] channels, int packets, int messageSize = 10_000)
    {
        var scheduler = new SendScheduler(channels, queueType: type);
        var message = new byte[messageSize];
        var sent = channels.ToDictionary(c => c.Id, _ => 0L);
        for (var i = 0; i < packets; i++)
        {
            foreach (var c in channels)
                while (scheduler.TryEnqueue(c.Id, message) == EnqueueResult.Accepted) { }
            Assert.True(scheduler.TryNextPacket(out var fragment));
            sent[fragment.ChannelId] += fragment.Data.Length;
            if (i % 100 == 99)
                scheduler.Decay();
        }
        return sent;
    }

    [Fact]
    public void Wdrr_shares_a_saturated_connection_in_proportion_to_priority()
    {
        ChannelDescriptor[] channels = [Ch(0x01, 1), Ch(0x02, 3), Ch(0x03, 6)];
        // 100 rounds of 10 packets each: deficit round robin is exact per round, so allow only rounding.
        var sent = Saturate(SendQueueType.Wdrr, channels, packets: 1_000);
        var total = (double)sent.Values.Sum();
        foreach (var c in channels)
            Assert.InRange(sent[c.Id] / total, c.Priority / 10.0 - 0.01, c.Priority / 10.0 + 0.01);
    }

    [Fact]
    public void Wdrr_serves_each_backlogged_channel_every_round()
    {
        // Priorities 100 and 1: between two packets of the low channel the high one sends at most its turn's credit
        // (100 largest packets) plus what it carried over (less than one packet).
        var scheduler = new SendScheduler([Ch(0x01, 100), Ch(0x02, 1)], queueType: SendQueueType.Wdrr);
        var message = new byte[50_000];
        var bound = 101L * PacketCodec.MaxPacketSize(PacketCodec.DefaultMaxPayloadSize);
        long sinceLow = 0;
        var lowPackets = 0;
        for (var i = 0; i < 5_000; i++)
        {
            while (scheduler.TryEnqueue(0x01, message) == EnqueueResult.Accepted) { }
            while (scheduler.TryEnqueue(0x02, message) == EnqueueResult.Accepted) { }
            Assert.True(scheduler.TryNextPacket(out var fragment));
            if (fragment.ChannelId == 0x02)
            {
                sinceLow = 0;
                lowPackets++;
            }
            else
                sinceLow += fragment.EncodedSize;
            Assert.True(sinceLow <= bound, $"the priority-1 channel waited {sinceLow} bytes at packet {i}");
        }
        Assert.InRange(lowPackets, 45, 55);
    }

    [Fact]
    public void Priority_never_starves_a_low_priority_channel_either()
    {
        var scheduler = new SendScheduler([Ch(0x01, 100), Ch(0x02, 1)]);
        var message = new byte[50_000];
        var lowPackets = 0;
        for (var i = 0; i < 20_200; i++)
        {
            while (scheduler.TryEnqueue(0x01, message) == EnqueueResult.Accepted) { }
            while (scheduler.TryEnqueue(0x02, message) == EnqueueResult.Accepted) { }
            Assert.True(scheduler.TryNextPacket(out var fragment));
            if (fragment.ChannelId == 0x02) lowPackets++;
            if (i % 100 == 99) scheduler.Decay();
        }
        // Its share is about 1/101 of 20,200 packets.
        Assert.InRange(lowPackets, 150, 250);
    }

    [Fact]
    public void Fifo_sends_whole_messages_in_the_order_they_were_enqueued_whatever_the_priorities()
    {
        var scheduler = new SendScheduler([Ch(0x01, 1), Ch(0x02, 10), Ch(0x03, 5)], queueType: SendQueueType.Fifo);
        // Each message names itself in its first byte; 2,500 bytes take three packets.
        byte[][] order = [[0x03, 1], [0x01, 1], [0x02, 1], [0x01, 2], [0x03, 2], [0x02, 2]];
        foreach (var o in order)
        {
            var message = new byte[2_500];
            message[0] = (byte)(o[0] * 16 + o[1]);
            Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(o[0], message));
        }
        var packets = new List<PacketMsgFragment>();
        while (scheduler.TryNextPacket(out var fragment)) packets.Add(fragment);

        Assert.Equal(order.Length * 3, packets.Count);
        for (var m = 0; m < order.Length; m++)
        {
            var three = packets.Skip(m * 3).Take(3).ToArray();
            Assert.All(three, p => Assert.Equal(order[m][0], p.ChannelId));
            Assert.Equal((byte)(order[m][0] * 16 + order[m][1]), three[0].Data.Span[0]);
            Assert.Equal([false, false, true], three.Select(p => p.Eof));
        }
    }

    [Fact]
    public void Fifo_puts_a_late_small_message_behind_an_earlier_large_one()
    {
        var scheduler = new SendScheduler([Ch(0x40, 5), Ch(0x22, 7)], queueType: SendQueueType.Fifo);
        scheduler.TryEnqueue(0x40, new byte[64 * 1024]);
        Assert.True(scheduler.TryNextPacket(out _));
        scheduler.TryEnqueue(0x22, new byte[64]);
        var before = 0;
        while (scheduler.TryNextPacket(out var fragment) && fragment.ChannelId == 0x40) before++;
        Assert.Equal(63, before);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Every_strategy_delivers_each_channels_messages_whole_and_in_order(SendQueueType type)
    {
        ChannelDescriptor[] channels = [Ch(0x00, 1, queue: 3), Ch(0x20, 6, queue: 3), Ch(0x40, 5, queue: 3), Ch(0x90, 2, queue: 3)];
        var scheduler = new SendScheduler(channels, queueType: type);
        var random = new Random(17);
        var expected = channels.ToDictionary(c => c.Id, _ => new List<byte[]>());
        var received = channels.ToDictionary(c => c.Id, _ => new List<byte[]>());
        var partial = channels.ToDictionary(c => c.Id, _ => new List<byte>());
        var enqueued = 0;
        while (enqueued < 400 || scheduler.HasPending)
        {
            // Enqueue at random while taking packets, so the strategies meet queues that fill and drain.
            if (enqueued < 400 && random.Next(3) > 0)
            {
                var c = channels[random.Next(channels.Length)];
                var message = new byte[random.Next(0, 5_000)];
                random.NextBytes(message);
                if (scheduler.TryEnqueue(c.Id, message) == EnqueueResult.Accepted)
                {
                    expected[c.Id].Add(message);
                    enqueued++;
                }
            }
            if (scheduler.TryNextPacket(out var f))
            {
                partial[f.ChannelId].AddRange(f.Data.ToArray());
                if (f.Eof)
                {
                    received[f.ChannelId].Add([.. partial[f.ChannelId]]);
                    partial[f.ChannelId].Clear();
                }
            }
            if (random.Next(50) == 0) scheduler.Decay();
        }
        foreach (var c in channels)
            Assert.Equal(expected[c.Id], received[c.Id]);
        Assert.Equal(0, scheduler.PendingBytes);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Every_strategy_sends_only_quiet_channels_when_asked(SendQueueType type)
    {
        var scheduler = new SendScheduler([Ch(0x40, 5), Ch(0x22, 7)], queueType: type);
        scheduler.TryEnqueue(0x40, new byte[64 * 1024]);
        // The bulk channel uses up its quiet allowance (under one packet's worth, plus the packet that crosses it).
        Assert.True(scheduler.TryNextQuietPacket(out var first));
        Assert.Equal(0x40, first.ChannelId);
        Assert.False(scheduler.TryNextQuietPacket(out _));
        scheduler.TryEnqueue(0x22, new byte[64]);
        Assert.True(scheduler.TryNextQuietPacket(out var vote));
        Assert.Equal(0x22, vote.ChannelId);
        Assert.True(vote.Eof);
        scheduler.StartQuietPeriod();
        Assert.True(scheduler.TryNextQuietPacket(out var again));
        Assert.Equal(0x40, again.ChannelId);
    }

    [Fact]
    public void An_unknown_queue_type_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SendScheduler([Ch(0x01, 1)], queueType: (SendQueueType)7));
    }
}
