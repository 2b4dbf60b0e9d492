using CsCheck;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Protocol.Tests.Properties;

/// <summary>
/// SendScheduler and Reassembler under operations chosen by CsCheck: for every queue type, each channel's messages go
/// out in order, whole, once, and each reassembles to what was enqueued.
/// </summary>
public sealed class MConnectionProperties
{
    /// <summary>A step of a run: enqueue a message of this length on the n-th channel, or cut up to this many packets.</summary>
    private abstract record Step;
    private sealed record Enqueue(int Channel, int Length) : Step;
    private sealed record Drain(int Packets) : Step;

    private static readonly Gen<ChannelDescriptor[]> ChannelSets =
        Gen.Select(Gen.Byte.HashSet[1, 5], Gen.Int[1, 10].Array[5], Gen.Int[1, 4].Array[5])
            .Select((ids, priorities, capacities) => ids.Select((id, i) =>
                new ChannelDescriptor(id, priorities[i]) { SendQueueCapacity = capacities[i] }).ToArray());

    private static readonly Gen<Step> Steps = Gen.Frequency(
        (3, Gen.Select(Gen.Int[0, 4], Gen.Frequency((3, Gen.Int[0, 64]), (2, Gen.Int[65, 3000]))).Select(t => (Step)new Enqueue(t.Item1, t.Item2))),
        (2, Gen.Int[1, 8].Select(n => (Step)new Drain(n))));

    private static readonly Gen<SendQueueType> QueueTypes = Gen.Enum<SendQueueType>();

    [Fact]
    public void Every_accepted_message_is_sent_once_whole_and_in_its_channels_order()
    {
        Gen.Select(ChannelSets, Steps.Array[0, 60], QueueTypes, Gen.Int[16, 1024]).Sample((channels, steps, queueType, payload) =>
        {
            var scheduler = new SendScheduler(channels, payload, queueType);
            var enqueued = channels.ToDictionary(c => c.Id, _ => new List<byte[]>());
            var received = channels.ToDictionary(c => c.Id, _ => new List<byte[]>());
            var partial = channels.ToDictionary(c => c.Id, _ => new List<byte>());
            var completed = new List<(byte Channel, int Index)>();
            var next = 0;
            byte? midMessage = null;

            void Cut(int packets)
            {
                for (var i = 0; i < packets && scheduler.TryNextPacket(out var fragment); i++)
                {
                    Assert.True(fragment.Data.Length <= payload, "a fragment larger than the payload size");
                    Assert.True(fragment.Eof || fragment.Data.Length == payload, "a fragment short of the payload size before eof");
                    if (queueType == SendQueueType.Fifo)
                    {
                        // FIFO sends a message whole before starting the next one, whatever the channel.
                        Assert.True(midMessage is null || midMessage == fragment.ChannelId, "fifo interleaved two messages");
                        midMessage = fragment.Eof ? null : fragment.ChannelId;
                    }
                    var buffer = partial[fragment.ChannelId];
                    buffer.AddRange(fragment.Data.ToArray());
                    if (!fragment.Eof) continue;
                    received[fragment.ChannelId].Add([.. buffer]);
                    completed.Add((fragment.ChannelId, received[fragment.ChannelId].Count - 1));
                    buffer.Clear();
                }
            }

            foreach (var step in steps)
            {
                if (step is Enqueue(var n, var length))
                {
                    var channel = channels[n % channels.Length].Id;
                    var message = Enumerable.Range(0, length).Select(_ => (byte)next++).ToArray();
                    var canEnqueue = scheduler.CanEnqueue(channel);
                    var result = scheduler.TryEnqueue(channel, message);
                    Assert.Equal(canEnqueue ? EnqueueResult.Accepted : EnqueueResult.QueueFull, result);
                    if (result == EnqueueResult.Accepted) enqueued[channel].Add(message);
                }
                else if (step is Drain(var packets))
                {
                    Cut(packets);
                }
                Assert.Equal(enqueued.Values.Sum(l => l.Count) > received.Values.Sum(l => l.Count), scheduler.HasPending);
            }
            Cut(int.MaxValue);

            Assert.False(scheduler.HasPending);
            Assert.Equal(0, scheduler.PendingBytes);
            foreach (var c in channels)
            {
                Assert.Equal(enqueued[c.Id], received[c.Id]);
                Assert.Empty(partial[c.Id]);
            }
            Assert.False(scheduler.TryNextPacket(out _));
        });
    }

    /// <summary>
    /// Found by the property above: on a channel ID of 0x80 or more, a last fragment can leave WDRR credit a byte or two
    /// in debt, and one more credit of a priority-1 channel then falls short of a full fragment. The scheduler must not
    /// answer "nothing to send" while that channel has a message waiting.
    /// </summary>
    [Fact]
    public void Wdrr_sends_a_waiting_message_on_a_high_channel_whose_credit_is_in_debt()
    {
        const int payload = PacketCodec.DefaultMaxPayloadSize;
        for (var fullFragments = 1; fullFragments <= 20; fullFragments++)
        for (var rest = 1; rest <= 20; rest++)
        {
            var scheduler = new SendScheduler(
                [new ChannelDescriptor(0xb2, 1) { SendQueueCapacity = 2 }, new ChannelDescriptor(0x12, 1)], payload, SendQueueType.Wdrr);
            Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0xb2, new byte[fullFragments * payload + rest]));
            Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0xb2, new byte[payload]));
            while (scheduler.TryNextPacket(out _)) { }
            Assert.False(scheduler.HasPending, $"a message left unsent after {fullFragments} full fragments and {rest} bytes");
        }
    }

    [Fact]
    public void An_unknown_channel_is_refused_and_changes_nothing()
    {
        Gen.Select(ChannelSets, Gen.Byte).Where((channels, id) => channels.All(c => c.Id != id)).Sample((channels, id) =>
        {
            var scheduler = new SendScheduler(channels);
            Assert.Equal(EnqueueResult.UnknownChannel, scheduler.TryEnqueue(id, new byte[10]));
            Assert.False(scheduler.HasPending);
        });
    }

    [Fact]
    public void Any_packetisation_of_a_message_reassembles_to_it()
    {
        var channel = new ChannelDescriptor(0x30, 5) { RecvMessageCapacity = 64 * 1024 };
        Gen.Select(Gen.Byte.Array[0, 20_000], CodecProperties.Cuts, Gen.Int[1, 3]).Sample((message, cuts, repeats) =>
        {
            var reassembler = new Reassembler([channel]);
            for (var r = 0; r < repeats; r++)
            {
                var fragments = CodecProperties.CutAt(message, cuts).ToArray();
                if (fragments.Length == 0) fragments = [ReadOnlyMemory<byte>.Empty];
                for (var i = 0; i < fragments.Length - 1; i++)
                    Assert.Null(reassembler.Accept(channel.Id, false, fragments[i].Span));
                Assert.Equal(message, reassembler.Accept(channel.Id, true, fragments[^1].Span));
                Assert.Equal(0, reassembler.BufferedBytes(channel.Id));
            }
        });
    }

    [Fact]
    public void Interleaved_channels_reassemble_each_to_its_own_messages()
    {
        ChannelDescriptor[] channels = [new(0x20, 1) { RecvMessageCapacity = 1 << 20 }, new(0x21, 1) { RecvMessageCapacity = 1 << 20 }];
        var fragments = Gen.Select(Gen.Int[0, 1], Gen.Bool, Gen.Byte.Array[0, 300]);
        fragments.Array[0, 40].Sample(steps =>
        {
            var reassembler = new Reassembler(channels);
            var expected = new[] { new List<byte>(), new List<byte>() };
            foreach (var (which, eof, data) in steps)
            {
                expected[which].AddRange(data);
                var message = reassembler.Accept(channels[which].Id, eof, data);
                if (eof)
                {
                    Assert.Equal(expected[which].ToArray(), message);
                    expected[which].Clear();
                }
                else
                {
                    Assert.Null(message);
                }
                Assert.Equal(expected[which].Count, reassembler.BufferedBytes(channels[which].Id));
            }
        });
    }

    [Fact]
    public void A_message_over_the_receive_capacity_is_refused_at_the_fragment_that_crosses_it()
    {
        Gen.Select(Gen.Int[1, 5000], Gen.Int[1, 2000].Array[1, 20]).Sample((capacity, sizes) =>
        {
            var channel = new ChannelDescriptor(0x40, 1) { RecvMessageCapacity = capacity };
            var reassembler = new Reassembler([channel]);
            var total = 0;
            foreach (var size in sizes)
            {
                total += size;
                if (total > capacity)
                {
                    var e = Assert.Throws<ProtocolViolationException>(() => reassembler.Accept(channel.Id, false, new byte[size]));
                    Assert.Equal(ProtocolViolation.ReceiveCapacityExceeded, e.Reason);
                    return;
                }
                Assert.Null(reassembler.Accept(channel.Id, false, new byte[size]));
            }
        });
    }
}
