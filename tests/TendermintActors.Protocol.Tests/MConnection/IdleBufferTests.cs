using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Protocol.Tests.MConnection;

/// <summary>
/// The decoder and the reassembler hold buffers only while a packet or a message is unfinished, and the send scheduler
/// and the reassembler hold a channel's state only from its first message (docs/performance.md, "Memory per
/// connection" and "Two stages, channels on first use, and the marginal peer").
/// </summary>
public class IdleBufferTests
{
    private static byte[] Packets(params (byte Channel, bool Eof, int Length)[] packets)
    {
        var wire = new List<byte>();
        foreach (var (channel, eof, length) in packets)
        {
            var data = new byte[length];
            new Random(length).NextBytes(data);
            var packet = new byte[PacketCodec.SizeOfPacketMsg(channel, eof, length)];
            new PacketMsgFragment(channel, eof, data).WriteTo(packet);
            wire.AddRange(packet);
        }
        return wire.ToArray();
    }

    [Fact]
    public void The_decoder_holds_a_buffer_only_while_a_packet_is_cut_short()
    {
        var decoder = new PacketDecoder(PacketCodec.MaxPacketSize(1024));
        Assert.Equal(0, decoder.HeldBufferBytes);
        var wire = Packets((0x20, true, 100), (0x20, true, 1024));
        var seen = 0;

        decoder.Decode(wire.AsSpan(0, 150), (_, _, _, _) => seen++);
        Assert.Equal(1, seen);
        Assert.True(decoder.HeldBufferBytes > 0); // the second packet's start waits for the rest

        decoder.Decode(wire.AsSpan(150), (_, _, _, data) => { seen++; Assert.Equal(1024, data.Length); });
        Assert.Equal(2, seen);
        Assert.Equal(0, decoder.BufferedBytes);
        Assert.Equal(0, decoder.HeldBufferBytes);
    }

    [Fact]
    public void The_reassembler_gives_its_pieces_back_when_a_message_completes()
    {
        var r = new Reassembler([new ChannelDescriptor(0x20, 1), new ChannelDescriptor(0x30, 1)]);
        var part = new byte[300];
        for (var i = 0; i < 40; i++) // 12,000 bytes in short fragments: copied into several 4 KiB pieces
            Assert.Null(r.Accept(0x20, eof: false, part));
        Assert.Null(r.Accept(0x30, eof: false, part));
        Assert.True(r.HeldBufferBytes(0x20) >= 12_000);

        Assert.Equal(12_001, r.Accept(0x20, eof: true, [7])!.Length);
        Assert.Equal(0, r.HeldBufferBytes(0x20));
        Assert.True(r.HeldBufferBytes(0x30) > 0); // the other channel's unfinished message keeps its piece

        Assert.Equal(301, r.Accept(0x30, eof: true, [7])!.Length);
        Assert.Equal(0, r.HeldBufferBytes(0x30));
    }

    // A node's reactors declare about ten channels (Go's: PEX, four consensus, mempool, evidence, block sync, two
    // state sync); an idle peer uses none of them.
    private static readonly ChannelDescriptor[] TenChannels =
        [.. new byte[] { 0x00, 0x20, 0x21, 0x22, 0x23, 0x30, 0x38, 0x40, 0x60, 0x61 }.Select(id => new ChannelDescriptor(id, 5) { SendQueueCapacity = 7 })];

    [Fact]
    public void The_send_scheduler_makes_a_channels_state_at_its_first_message_and_reports_idle_ones_from_their_descriptors()
    {
        var s = new SendScheduler(TenChannels);
        Assert.Equal(0, s.ChannelsInUse);
        Assert.True(s.FullyDecayed);
        Assert.False(s.HasPending);
        Assert.True(s.CanEnqueue(0x30)); // an unused channel has room
        Assert.Equal(new ChannelSendStatus(0x21, 5, 7, 0, 0, 0), s.GetStatus(0x21));
        Assert.Equal(0, s.ChannelsInUse); // asking made nothing

        Assert.Equal(EnqueueResult.Accepted, s.TryEnqueue(0x30, new byte[100]));
        Assert.Equal(EnqueueResult.Accepted, s.TryEnqueue(0x30, new byte[50])); // waits behind the first
        Assert.Equal(1, s.ChannelsInUse);
        var status = s.GetStatus();
        Assert.Equal(TenChannels.Select(c => c.Id), status.Select(c => c.Id));
        Assert.Equal(2, status.Single(c => c.Id == 0x30).QueueSize);
        Assert.All(status.Where(c => c.Id != 0x30), c => Assert.Equal(new ChannelSendStatus(c.Id, 5, 7, 0, 0, 0), c));

        Assert.True(s.TryNextPacket(out var first));
        Assert.True(s.TryNextPacket(out var second));
        Assert.Equal((0x30, 100, 50), (first.ChannelId, first.Data.Length, second.Data.Length));
        Assert.False(s.TryNextPacket(out _));
        Assert.Equal(EnqueueResult.UnknownChannel, s.TryEnqueue(0x31, new byte[1]));
        Assert.Equal(1, s.ChannelsInUse);
    }

    [Theory]
    [InlineData(SendQueueType.Priority)]
    [InlineData(SendQueueType.Fifo)]
    [InlineData(SendQueueType.Wdrr)]
    public void Every_queue_type_skips_unused_channels(SendQueueType type)
    {
        var s = new SendScheduler(TenChannels, queueType: type);
        Assert.Equal(EnqueueResult.Accepted, s.TryEnqueue(0x61, new byte[3000])); // the last channel
        Assert.Equal(EnqueueResult.Accepted, s.TryEnqueue(0x20, new byte[10]));
        var sent = new List<(byte, int)>();
        while (s.TryNextPacket(out var fragment))
            sent.Add((fragment.ChannelId, fragment.Data.Length));
        Assert.Equal(3010, sent.Sum(p => p.Item2));
        Assert.Equal(2, s.ChannelsInUse);
        s.Decay();
        s.StartQuietPeriod();
        Assert.False(s.FullyDecayed);
    }

    [Fact]
    public void The_reassembler_makes_a_channels_state_at_its_first_fragment()
    {
        var r = new Reassembler(TenChannels);
        Assert.Equal(0, r.ChannelsInUse);
        Assert.Equal(0, r.BufferedBytes(0x22));
        Assert.Equal(0, r.ChannelsInUse);

        Assert.Null(r.Accept(0x22, eof: false, new byte[10]));
        Assert.Equal(10, r.BufferedBytes(0x22));
        Assert.Equal(11, r.Accept(0x22, eof: true, [1])!.Length);
        Assert.Equal(1, r.ChannelsInUse);
        Assert.Throws<Errors.ProtocolViolationException>(() => r.Accept(0x31, eof: true, [1]));
        Assert.Equal(1, r.ChannelsInUse);
    }
}
