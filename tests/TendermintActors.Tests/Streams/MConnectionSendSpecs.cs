using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Akka.TestKit;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;
using TendermintActors.Streams;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using static TendermintActors.Streams.MConnection;
using ByteString = Akka.IO.ByteString;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// Messages through MConnection stages (docs/protocol.md §5) in memory: intact and in order per channel, acknowledged as
/// sent, rejected when they cannot be queued, batched only while downstream is busy, flushed on a graceful close.
/// Time never moves in these specs, so anything that arrives did not wait for a timer.
/// </summary>
public sealed class MConnectionSendSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] ThreeChannels =
    [
        new(0x01, 1) { SendQueueCapacity = 8 },
        new(0x20, 5) { SendQueueCapacity = 8 },
        // From 0x80 a channel ID takes two bytes on the wire: the scheduler must keep its packets within the limit.
        new(0x90, 3) { SendQueueCapacity = 8 },
    ];

    [Fact]
    public void Messages_of_every_size_arrive_intact_and_in_order_per_channel_in_both_directions()
    {
        var ownerA = CreateTestProbe();
        var ownerB = CreateTestProbe();
        // Nothing is acknowledged here: the receive window must hold every message of a channel (a 4 MiB one included).
        var (a, b) = RunPair(Unlimited with { ReceiveWindowBytes = 8 * 1024 * 1024 }, ThreeChannels, ownerA, ownerB);

        int[] sizes = [0, 1, 1024, 1025, 4 * 1024 * 1024, 3];
        var sentByA = new Dictionary<byte, List<byte[]>>();
        var sentByB = new Dictionary<byte, List<byte[]>>();
        var seed = 0;
        foreach (var size in sizes)
        {
            foreach (var channel in ThreeChannels)
            {
                var fromA = Bytes(size, ++seed);
                var fromB = Bytes(size, ++seed);
                Add(sentByA, channel.Id, fromA);
                Add(sentByB, channel.Id, fromB);
                a.Send(channel.Id, fromA);
                b.Send(channel.Id, fromB);
            }
        }

        var count = sizes.Length * ThreeChannels.Length;
        var (receivedByB, sentAckedA) = Collect(ownerB, count, count);
        var (receivedByA, sentAckedB) = Collect(ownerA, count, count);
        foreach (var channel in ThreeChannels)
        {
            AssertSameMessages(sentByA[channel.Id], receivedByB[channel.Id]);
            AssertSameMessages(sentByB[channel.Id], receivedByA[channel.Id]);
            Assert.Equal(sizes.Length, sentAckedA[channel.Id]);
            Assert.Equal(sizes.Length, sentAckedB[channel.Id]);
        }
    }

    [Fact]
    public void A_lone_small_message_goes_out_at_once_and_is_acknowledged_as_sent()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var handle = RunAgainst(Unlimited, ThreeChannels, owner, Writes(), remote);

        handle.Send(0x20, "hello"u8.ToArray());

        // No clock advance: nothing waits for a flush timer.
        var packet = remote.ExpectMsg<Packet>(Timeout);
        Assert.Equal(0x20, packet.PacketMsg.ChannelId);
        Assert.True(packet.PacketMsg.Eof);
        Assert.Equal("hello", packet.PacketMsg.Data.ToStringUtf8());
        Assert.Equal(new MessagesSent(0x20, 1), owner.ExpectMsg<MessagesSent>(Timeout));
    }

    [Fact]
    public void Each_message_is_acknowledged_once_when_its_last_packet_is_written()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var handle = RunAgainst(Unlimited, ThreeChannels, owner, Writes(), remote);

        handle.Send(0x01, Bytes(2500, 1)); // three packets
        handle.Send(0x01, Array.Empty<byte>()); // one empty packet
        handle.Send(0x90, Bytes(10, 2));

        var acked = ExpectSent(owner, 3);
        Assert.Equal(2, acked.GetValueOrDefault((byte)0x01));
        Assert.Equal(1, acked.GetValueOrDefault((byte)0x90));
        var packets = Enumerable.Range(0, 5).Select(_ => remote.ExpectMsg<Packet>(Timeout).PacketMsg).ToList();
        Assert.Equal(3, packets.Count(p => p.Eof));
        AssertStatusQueuesEmpty(handle, owner);
    }

    [Fact]
    public void A_send_to_a_full_queue_or_an_unknown_channel_is_rejected_and_dropped()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var channels = new[] { new ChannelDescriptor(0x01, 1) { SendQueueCapacity = 1 } };
        var gate = new GatedSink.Gate();
        var handle = RunAgainst(Unlimited, channels, owner, Writes(), GatedSink.Create(remote, gate)); // no demand yet

        // Capacity 1 holds one waiting message besides the one in progress, as Go's send queue does.
        handle.Send(0x01, Bytes(10, 1));
        handle.Send(0x01, Bytes(10, 2));
        handle.Send(0x01, Bytes(10, 3));
        handle.Send(0x55, Bytes(10, 4));
        Assert.Equal(new SendRejected(0x01, SendRejection.QueueFull), owner.ExpectMsg<SendRejected>(Timeout));
        Assert.Equal(new SendRejected(0x55, SendRejection.UnknownChannel), owner.ExpectMsg<SendRejected>(Timeout));
        Assert.Equal(2, Channel(AwaitStatus(handle, owner), 0x01).SendQueueSize);

        gate.Request();
        var packets = PacketWire.Packets(remote.ExpectMsg<ByteString>(Timeout));
        Assert.Equal(2, packets.Count);
        Assert.Equal(Bytes(10, 1), packets[0].PacketMsg.Data.ToByteArray());
        Assert.Equal(Bytes(10, 2), packets[1].PacketMsg.Data.ToByteArray());
        // Both went out in one write: one notification for the two.
        Assert.Equal(new MessagesSent(0x01, 2), owner.ExpectMsg<MessagesSent>(Timeout));

        // Both slots are free again.
        handle.Send(0x01, Bytes(10, 5));
        handle.Send(0x01, Bytes(10, 6));
        Assert.Equal(2, Channel(AwaitStatus(handle, owner), 0x01).SendQueueSize);
    }

    [Fact]
    public void Packets_queued_while_downstream_is_busy_go_out_together_in_one_write()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var gate = new GatedSink.Gate();
        var handle = RunAgainst(Unlimited, ThreeChannels, owner, Writes(), GatedSink.Create(remote, gate));

        handle.Send(0x01, Bytes(100, 1));
        handle.Send(0x20, Bytes(2000, 2));
        handle.Send(0x90, Bytes(0, 3));
        AwaitStatus(handle, owner); // all three queued before downstream asks

        gate.Request();
        var packets = PacketWire.Packets(remote.ExpectMsg<ByteString>(Timeout));
        Assert.Equal(4, packets.Count);
        Assert.Equal(new[] { 0x01, 0x20, 0x90 }, packets.Where(p => p.PacketMsg.Eof).Select(p => p.PacketMsg.ChannelId).Order());
    }

    [Theory]
    [InlineData(SendQueueType.Priority, new byte[] { 0x01, 0x20, 0x01, 0x01 })]
    [InlineData(SendQueueType.Fifo, new byte[] { 0x01, 0x01, 0x01, 0x20 })]
    [InlineData(SendQueueType.Wdrr, new byte[] { 0x01, 0x20, 0x01, 0x01 })]
    public void The_queue_type_decides_which_channel_sends_first(SendQueueType queueType, byte[] expectedChannels)
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var gate = new GatedSink.Gate();
        var handle = RunAgainst(Unlimited with { QueueType = queueType }, ThreeChannels, owner, Writes(), GatedSink.Create(remote, gate));

        // A three-packet message on the low-priority channel, then a small one on a higher-priority channel.
        handle.Send(0x01, Bytes(3000, 1));
        handle.Send(0x20, Bytes(100, 2));
        AwaitStatus(handle, owner); // both queued before downstream asks

        gate.Request();
        var packets = PacketWire.Packets(remote.ExpectMsg<ByteString>(Timeout));
        Assert.Equal(expectedChannels, packets.Select(p => (byte)p.PacketMsg.ChannelId));
    }

    [Fact]
    public void A_write_never_exceeds_the_batch_limit()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var settings = Unlimited with { MaxWriteBatchBytes = 4096 };
        var handle = RunAgainst(settings, ThreeChannels, owner, Writes(),
            Sink.ActorRef<ByteString>(remote, new PacketWire.RemoteCompleted(), e => new PacketWire.RemoteFailed(e)));

        var message = Bytes(20_000, 7);
        handle.Send(0x01, message);
        Assert.Equal(new MessagesSent(0x01, 1), owner.ExpectMsg<MessagesSent>(Timeout));

        var received = new List<byte>();
        var eof = false;
        while (!eof)
        {
            var write = remote.ExpectMsg<ByteString>(Timeout);
            Assert.InRange(write.Count, 1, 4096);
            foreach (var packet in PacketWire.Packets(write))
            {
                received.AddRange(packet.PacketMsg.Data);
                eof = packet.PacketMsg.Eof;
            }
        }
        Assert.Equal(message, received);
    }

    [Fact]
    public void Graceful_close_delivers_everything_queued_before_completing()
    {
        var ownerA = CreateTestProbe();
        var ownerB = CreateTestProbe();
        var (a, b) = RunPair(Unlimited, ThreeChannels, ownerA, ownerB);

        var big = Bytes(4 * 1024 * 1024, 1);
        var small = Bytes(5, 2);
        var odd = Bytes(1025, 3);
        a.Send(0x01, big);
        a.Send(0x20, small);
        a.Send(0x90, odd);
        a.Close(flushFirst: true);
        a.Send(0x20, small);

        var (received, _) = Collect(ownerB, 3, 0);
        AssertSameMessages([big], received[0x01]);
        AssertSameMessages([small], received[0x20]);
        AssertSameMessages([odd], received[0x90]);
        Assert.Null(ownerB.ExpectMsg<Stopped>(Timeout).Reason);

        var events = new List<IEvent>();
        while (events.LastOrDefault() is not Stopped)
            events.Add(ownerA.ExpectMsg<IEvent>(Timeout));
        Assert.Equal(3, events.OfType<MessagesSent>().Sum(e => e.Count));
        Assert.Equal(new SendRejected(0x20, SendRejection.Closing), Assert.Single(events.OfType<SendRejected>()));
        Assert.Null(Assert.IsType<Stopped>(events[^1]).Reason);
        Assert.True(a.Completion.Wait(Timeout));
        Assert.True(b.Completion.Wait(Timeout));
    }

    [Fact]
    public void A_graceful_close_whose_remote_ends_its_stream_and_takes_nothing_more_gives_up_after_a_pong_timeout_saying_so()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var gate = new GatedSink.Gate(); // the remote reads nothing: our messages stay queued
        TaskCompletionSource<ByteString>? remoteEnd = null;
        var remoteInput = Source.Maybe<ByteString>().MapMaterializedValue(end =>
        {
            remoteEnd = end;
            return Akka.NotUsed.Instance;
        });
        var handle = RunAgainst(Unlimited, ThreeChannels, owner, remoteInput, GatedSink.Create(remote, gate));

        handle.Send(0x01, Bytes(200_000, 1));
        handle.Close(flushFirst: true);
        AwaitStatus(handle, owner); // the close has been taken
        remoteEnd!.TrySetResult(null!); // null: the remote ends its direction (with half-close it might still read, so we wait)

        // The wait is one pong timeout from when the stage saw the end (the clock moves on until that has happened).
        AwaitAssert(() =>
        {
            Clock.Advance(Unlimited.PongTimeout);
            Assert.True(handle.Completion.IsCompleted);
        }, Timeout);
        var reason = Assert.IsType<PeerClosedException>(owner.ExpectMsg<Stopped>(Timeout).Reason);
        Assert.Equal("closed/unflushed", reason.Code);
        Assert.False(reason.IsError);
        Assert.Contains("bytes of queued messages left", reason.Message);
    }

    [Fact]
    public void A_graceful_close_whose_transport_stops_taking_writes_with_messages_queued_ends_unflushed_saying_so()
    {
        var owner = CreateTestProbe();
        var (handle, transport) = Writes()
            .ViaMaterialized(MConnection.Create(Unlimited, ThreeChannels, owner), Keep.Right)
            .ToMaterialized(this.SinkProbe<ByteString>(), Keep.Both)
            .Run(Materializer);

        handle.Send(0x01, Bytes(200_000, 1)); // several batches: a batch is at most max-write-batch (64 KiB)
        handle.Close(flushFirst: true);
        AwaitStatus(handle, owner); // the close has been taken, nothing written yet (no demand)
        transport.Request(1);
        transport.ExpectNext(Timeout);
        transport.Cancel(); // the transport takes no more, without an error (a socket whose peer has gone)

        var events = new List<IEvent>();
        while (events.LastOrDefault() is not Stopped)
            events.Add(owner.ExpectMsg<IEvent>(Timeout));
        var reason = Assert.IsType<PeerClosedException>(((Stopped)events[^1]).Reason);
        Assert.Equal("closed/unflushed", reason.Code);
        Assert.Contains("stopped taking our writes", reason.Message);
        Assert.Empty(events.OfType<MessagesSent>()); // the message was not all written
    }

    [Fact]
    public void Close_without_flush_stops_at_once()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var gate = new GatedSink.Gate();
        var handle = RunAgainst(Unlimited, ThreeChannels, owner, Writes(), GatedSink.Create(remote, gate));

        handle.Send(0x01, Bytes(100, 1));
        handle.Close(flushFirst: false);

        Assert.Null(owner.ExpectMsg<Stopped>(Timeout).Reason);
        remote.ExpectMsg<PacketWire.RemoteCompleted>(Timeout);
        Assert.True(handle.Completion.Wait(Timeout));
        handle.Send(0x01, Bytes(100, 2)); // after the end: ignored, not thrown
    }

    [Fact]
    public void Settings_with_a_pong_timeout_not_below_the_ping_interval_are_refused()
    {
        var settings = new MConnectionSettings { PingInterval = TimeSpan.FromSeconds(10), PongTimeout = TimeSpan.FromSeconds(10) };
        var error = Assert.Throws<ArgumentException>(() => MConnection.Create(settings, ThreeChannels, TestActor));
        Assert.Contains("PongTimeout", error.Message);
        Assert.Contains("PingInterval", error.Message);
    }

    [Fact]
    public void Channel_sets_that_declare_an_id_twice_are_refused_and_empty_ones_allowed()
    {
        Assert.Throws<ArgumentException>(() => MConnection.Create(Unlimited, [new(0x01, 1), new(0x01, 2)], TestActor));
        // A node without reactors still connects (it can only receive pings and pongs).
        Assert.NotNull(MConnection.Create(Unlimited, [], TestActor));
    }

    private static void AssertStatusQueuesEmpty(MConnectionHandle handle, TestProbe owner)
    {
        foreach (var channel in AwaitStatus(handle, owner).Channels)
        {
            Assert.Equal(0, channel.SendQueueSize);
            Assert.Equal(0, channel.PendingSendBytes);
        }
    }

    private static void Add(Dictionary<byte, List<byte[]>> map, byte channel, byte[] message)
    {
        if (!map.TryGetValue(channel, out var list))
            map[channel] = list = [];
        list.Add(message);
    }

    /// <summary>Takes the owner's next <see cref="MessagesSent"/> until they add up to <paramref name="count"/>; per channel.</summary>
    private static Dictionary<byte, int> ExpectSent(TestProbe owner, int count)
    {
        var sent = new Dictionary<byte, int>();
        for (var total = 0; total < count;)
        {
            var m = owner.ExpectMsg<MessagesSent>(Timeout);
            Assert.InRange(m.Count, 1, count - total);
            sent[m.Channel] = sent.GetValueOrDefault(m.Channel) + m.Count;
            total += m.Count;
        }
        return sent;
    }

    /// <summary>Takes the owner's next events until it has seen the given numbers of received and sent messages.</summary>
    private static (Dictionary<byte, List<byte[]>> Received, Dictionary<byte, int> Sent) Collect(TestProbe owner, int received, int sent)
    {
        var messages = new Dictionary<byte, List<byte[]>>();
        var acks = new Dictionary<byte, int>();
        int r = 0, s = 0;
        while (r < received || s < sent)
        {
            switch (owner.ExpectMsg<IEvent>(Timeout))
            {
                case MessagesReceived batch:
                    foreach (var m in batch.Messages)
                        Add(messages, m.Channel, m.Message.ToArray());
                    r += batch.Messages.Count;
                    break;
                case MessagesSent m:
                    Assert.InRange(m.Count, 1, sent - s);
                    acks[m.Channel] = acks.GetValueOrDefault(m.Channel) + m.Count;
                    s += m.Count;
                    break;
                case var other:
                    Assert.Fail($"unexpected {other}");
                    break;
            }
        }
        Assert.Equal(received, r);
        Assert.Equal(sent, s);
        return (messages, acks);
    }

    private static void AssertSameMessages(List<byte[]> expected, List<byte[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
            Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"message {i} ({expected[i].Length} bytes) differs");
    }
}
