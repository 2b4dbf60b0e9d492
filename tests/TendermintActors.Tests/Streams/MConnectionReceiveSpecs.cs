using Akka.Streams.Dsl;
using Akka.TestKit;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;
using TendermintActors.Streams;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using static TendermintActors.Streams.MConnection;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The receiving side against scripted remotes: protocol violations end the connection with their typed reason,
/// the per-channel receive bound back-pressures the remote (and suspends the pong timeout), rate limits hold.
/// </summary>
public sealed class MConnectionReceiveSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] Channels =
    [
        new(0x01, 1) { RecvBufferCapacity = 2, RecvMessageCapacity = 1500 },
        new(0x02, 1),
    ];

    public static IEnumerable<object[]> Violations() =>
    [
        ["unknown channel", PacketWire.Msg(0x77, true, "x"u8), ProtocolViolation.UnknownChannel],
        ["negative channel", PacketWire.Msg(-1, true, "x"u8), ProtocolViolation.UnknownChannel],
        ["channel over 255", PacketWire.Msg(0x101, true, "x"u8), ProtocolViolation.UnknownChannel],
        ["packet over the reader's limit", PacketWire.Msg(0x02, true, new byte[1025]), ProtocolViolation.MessageTooLarge],
        ["message over the channel's capacity",
            PacketWire.Msg(0x01, false, new byte[1024]).Concat(PacketWire.Msg(0x01, true, new byte[1024])).ToArray(),
            ProtocolViolation.ReceiveCapacityExceeded],
        ["undecodable body", new byte[] { 0x02, 0x0a, 0x05 }, ProtocolViolation.MalformedMessage],
        ["packet with nothing set", new byte[] { 0x00 }, ProtocolViolation.MalformedMessage],
        ["length prefix that is no varint", Enumerable.Repeat((byte)0xff, 11).ToArray(), ProtocolViolation.MalformedLengthPrefix],
    ];

    [Theory]
    [MemberData(nameof(Violations))]
    public void A_protocol_violation_ends_the_connection_with_its_reason(string script, byte[] bytes, ProtocolViolation expected)
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        // A good message first: the violation ends a connection that was working.
        var handle = RunAgainst(Unlimited, Channels, owner, Writes(PacketWire.Chunk(PacketWire.Message(0x02, "ok"u8), bytes)), remote);

        ExpectReceived(owner, 0x02, "ok"u8.ToArray());
        var error = Assert.IsType<ProtocolViolationException>(owner.ExpectMsg<Stopped>(Timeout).Reason);
        Assert.True(expected == error.Reason, $"{script}: expected {expected}, got {error.Reason} ({error.Message})");
        Assert.IsType<ProtocolViolationException>(remote.ExpectMsg<PacketWire.RemoteFailed>(Timeout).Error);
        var completion = Assert.Throws<AggregateException>(() => handle.Completion.Wait(Timeout));
        Assert.Same(error, completion.InnerException);
    }

    [Theory]
    [InlineData("inside a packet")]
    [InlineData("inside a message")]
    public void The_remote_ending_its_stream_mid_way_is_an_unexpected_eof(string where)
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var bytes = where == "inside a packet"
            ? PacketWire.Msg(0x02, true, "hello"u8)[..4]
            : PacketWire.Msg(0x02, false, "hel"u8);
        RunAgainst(Unlimited, Channels, owner, Source.Single(PacketWire.Chunk(bytes)), remote);

        var error = Assert.IsType<ProtocolViolationException>(owner.ExpectMsg<Stopped>(Timeout).Reason);
        Assert.Equal(ProtocolViolation.UnexpectedEof, error.Reason);
    }

    [Fact]
    public void The_remote_ending_its_stream_between_messages_closes_the_connection_cleanly()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var handle = RunAgainst(Unlimited, Channels, owner, Source.Single(PacketWire.Chunk(PacketWire.Message(0x02, "bye"u8))), remote);

        ExpectReceived(owner, 0x02, "bye"u8.ToArray());
        Assert.Null(owner.ExpectMsg<Stopped>(Timeout).Reason);
        remote.ExpectMsg<PacketWire.RemoteCompleted>(Timeout);
        Assert.True(handle.Completion.Wait(Timeout));
    }

    [Fact]
    public void Delivery_on_a_channel_stops_at_its_bound_and_resumes_when_acknowledged()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        byte[] m1 = [1], m2 = [2], m3 = [3], m4 = [4], other = [9];
        var handle = RunAgainst(Unlimited, Channels, owner, Writes(
            PacketWire.Chunk(PacketWire.Message(0x01, m1), PacketWire.Message(0x01, m2), PacketWire.Message(0x01, m3),
                PacketWire.Message(0x02, other)),
            PacketWire.Chunk(PacketWire.Message(0x01, m4))), remote);

        // Channel 0x01 may have 2 messages unacknowledged; m3 waits, the other channel's message does not. What one
        // read delivers reaches the owner as one event.
        ExpectReceived(owner, (0x01, m1), (0x01, m2), (0x02, other));
        var status = AwaitStatus(handle, owner); // nothing else arrived before the status
        Assert.True(status.ReceivePaused);
        Assert.Equal(2, Channel(status, 0x01).ReceivedUnacknowledged);

        handle.Ack(0x01);
        ExpectReceived(owner, 0x01, m3);
        Assert.True(AwaitStatus(handle, owner).ReceivePaused); // m3 took the freed slot: still at the bound

        handle.Ack(0x01, 2);
        ExpectReceived(owner, 0x01, m4); // reading resumed
        status = AwaitStatus(handle, owner);
        Assert.False(status.ReceivePaused);
        Assert.Equal(1, Channel(status, 0x01).ReceivedUnacknowledged);
    }

    [Fact]
    public void Delivery_on_a_channel_also_stops_once_its_unacknowledged_bytes_reach_the_window()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        // Channel 0x02 may hold 4096 messages; a 100-byte window stops it long before.
        var settings = Unlimited with { ReceiveWindowBytes = 100 };
        byte[] m1 = Bytes(60, 1), m2 = Bytes(60, 2), m3 = Bytes(10, 3), big = Bytes(300, 4), m5 = Bytes(1, 5);
        var handle = RunAgainst(settings, Channels, owner, Writes(
            PacketWire.Chunk(PacketWire.Message(0x02, m1), PacketWire.Message(0x02, m2), PacketWire.Message(0x02, m3)),
            PacketWire.Chunk(PacketWire.Message(0x02, big), PacketWire.Message(0x02, m5))), remote);

        // m1 leaves 40 bytes of room, so m2 goes too (a channel holds at most one message beyond the window); m3 waits.
        ExpectReceived(owner, (0x02, m1), (0x02, m2));
        var status = AwaitStatus(handle, owner);
        Assert.True(status.ReceivePaused);
        Assert.Equal(2, Channel(status, 0x02).ReceivedUnacknowledged);
        Assert.Equal(120, Channel(status, 0x02).ReceivedUnacknowledgedBytes);
        Assert.Equal(100, Channel(status, 0x02).ReceiveWindowBytes);

        handle.Ack(0x02); // frees m1's 60 bytes, the oldest
        ExpectReceived(owner, 0x02, m3); // 70 bytes now: under the window, so reading resumes
        ExpectReceived(owner, 0x02, big); // a message larger than the whole window still goes through
        status = AwaitStatus(handle, owner);
        Assert.True(status.ReceivePaused);
        Assert.Equal(370, Channel(status, 0x02).ReceivedUnacknowledgedBytes);

        handle.Ack(0x02, 2); // m2 and m3: the big one alone is still over the window
        status = AwaitStatus(handle, owner);
        Assert.True(status.ReceivePaused);
        Assert.Equal(300, Channel(status, 0x02).ReceivedUnacknowledgedBytes);

        handle.Ack(0x02);
        ExpectReceived(owner, 0x02, m5);
        status = AwaitStatus(handle, owner);
        Assert.False(status.ReceivePaused);
        Assert.Equal(1, Channel(status, 0x02).ReceivedUnacknowledgedBytes);
    }

    [Fact]
    public void While_reads_are_paused_by_us_the_pong_timeout_is_suspended_and_pings_are_still_answered()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        byte[] m1 = [1], m2 = [2], m3 = [3];
        var handle = RunAgainst(Unlimited, Channels, owner, Writes(
            PacketWire.Chunk(PacketWire.Message(0x01, m1), PacketWire.Message(0x01, m2), PacketWire.Message(0x01, m3),
                PacketWire.Ping()),
            // The remote's answer to our ping, which we do not read while paused.
            PacketWire.Chunk(PacketWire.Pong())), remote);

        ExpectReceived(owner, (0x01, m1), (0x01, m2)); // one read, one event
        Assert.True(AwaitStatus(handle, owner).ReceivePaused);
        Assert.Equal(Packet.SumOneofCase.PacketPong, remote.ExpectMsg<Packet>(Timeout).SumCase);

        Clock.Advance(Unlimited.PingInterval);
        Assert.Equal(Packet.SumOneofCase.PacketPing, remote.ExpectMsg<Packet>(Timeout).SumCase);
        Clock.Advance(Unlimited.PongTimeout + TimeSpan.FromSeconds(1));
        Assert.True(AwaitStatus(handle, owner).ReceivePaused); // still alive: the pong waits behind our own pause

        handle.Ack(0x01, 2);
        ExpectReceived(owner, 0x01, m3);
        Assert.False(AwaitStatus(handle, owner).ReceivePaused); // and the pong has been read
        Clock.Advance(Unlimited.PongTimeout + TimeSpan.FromSeconds(1));
        AwaitStatus(handle, owner);
        Assert.False(handle.Completion.IsCompleted);
    }

    [Fact]
    public void A_pong_deadline_deferred_by_a_pause_runs_again_once_reads_resume()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        byte[] m1 = [1], m2 = [2], m3 = [3], other = [9];
        var handle = RunAgainst(Unlimited, Channels, owner, Writes(
            PacketWire.Chunk(PacketWire.Message(0x01, m1), PacketWire.Message(0x01, m2), PacketWire.Message(0x01, m3)),
            PacketWire.Chunk(PacketWire.Message(0x02, other))), remote);
        ExpectReceived(owner, (0x01, m1), (0x01, m2)); // one read, one event
        Assert.True(AwaitStatus(handle, owner).ReceivePaused);

        Clock.Advance(Unlimited.PingInterval);
        remote.ExpectMsg<Packet>(Timeout);
        Clock.Advance(Unlimited.PongTimeout + TimeSpan.FromSeconds(1));
        AwaitStatus(handle, owner);

        handle.Ack(0x01, 2);
        ExpectReceived(owner, 0x01, m3);
        ExpectReceived(owner, 0x02, other);
        Assert.False(AwaitStatus(handle, owner).ReceivePaused);

        // Reading again, and no pong in what the remote wrote: a full timeout later the connection fails.
        Clock.Advance(Unlimited.PongTimeout - TimeSpan.FromSeconds(1));
        AwaitStatus(handle, owner);
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.IsType<PeerTimeoutException>(owner.ExpectMsg<Stopped>(Timeout).Reason);
    }

    [Fact]
    public void The_receive_rate_limit_pauses_reading_until_the_budget_refills()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        // 10 000 B/s, read at up to 10 200 (TokenBucket.ReceiveAllowance): 1020 bytes per 100 ms (the burst), and each
        // chunk below is just over that.
        var settings = Unlimited with { RecvRate = 10_000 };
        var messages = Enumerable.Range(1, 3).Select(i => Bytes(1010, i)).ToArray();
        var chunks = messages.Select(m => PacketWire.Chunk(PacketWire.Message(0x02, m))).ToArray();
        Assert.All(chunks, c => Assert.InRange(c.Count, 1021, 1100));
        var handle = RunAgainst(settings, Channels, owner, Writes(chunks), remote);

        foreach (var message in messages)
        {
            ExpectReceived(owner, 0x02, message);
            Assert.True(AwaitStatus(handle, owner).ReceivePaused);
            AdvanceInRefillTicks(settings.FlushThrottle);
        }
        Assert.False(AwaitStatus(handle, owner).ReceivePaused);
    }

    [Fact]
    public void The_send_rate_limit_holds_packets_until_the_budget_refills()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var settings = Unlimited with { SendRate = 10_000 }; // 1000 bytes per 100 ms, less than one full packet
        var handle = RunAgainst(settings, Channels, owner, Writes(), remote);

        handle.Send(0x02, Bytes(3000, 1));
        foreach (var (payload, pendingAfter) in new[] { (1024, 1976), (1024, 952), (952, 0) })
        {
            var packet = remote.ExpectMsg<Packet>(Timeout).PacketMsg;
            Assert.Equal(payload, packet.Data.Length);
            if (pendingAfter > 0)
            {
                Assert.Equal(pendingAfter, Channel(AwaitStatus(handle, owner), 0x02).PendingSendBytes);
                AdvanceInRefillTicks(settings.FlushThrottle);
            }
        }
        Assert.Equal(new MessagesSent(0x02, 1), owner.ExpectMsg<MessagesSent>(Timeout));
    }

    [Fact]
    public void A_channel_quiet_since_the_last_refill_may_send_one_packet_past_a_spent_budget()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        // 1 000 000 B/s, paced at 980 000 (TokenBucket.PacedSendRate): a 98 000-byte burst, 9 800 bytes per 10 ms tick.
        var settings = Unlimited with { SendRate = 1_000_000 };
        var handle = RunAgainst(settings, Channels, owner, Writes(), remote);

        handle.Send(0x02, Bytes(200 * 1024, 1)); // a bulk transfer spends the whole budget: packets go until it is
        var burst = ExpectBurst(remote, 0x02, 98_000).Count;
        var pending = Channel(AwaitStatus(handle, owner), 0x02).PendingSendBytes;
        Assert.Equal(200 * 1024 - burst * 1024, pending);

        // A small message on the other channel goes at once, without waiting for a refill...
        handle.Send(0x01, "vote"u8.ToArray());
        var packet = remote.ExpectMsg<Packet>(Timeout).PacketMsg;
        Assert.Equal(0x01, packet.ChannelId);
        Assert.Equal("vote"u8.ToArray(), packet.Data.ToByteArray());
        Assert.Equal(new MessagesSent(0x01, 1), owner.ExpectMsg<MessagesSent>(Timeout));
        // ...and so does the next packet of a channel still under one packet's worth this period, but no more: the
        // second packet of a larger message, like the bulk channel, waits for the refill.
        handle.Send(0x01, Bytes(3000, 2));
        packet = remote.ExpectMsg<Packet>(Timeout).PacketMsg;
        Assert.Equal(0x01, packet.ChannelId);
        Assert.Equal(1024, packet.Data.Length);
        var status = AwaitStatus(handle, owner);
        Assert.Equal(pending, Channel(status, 0x02).PendingSendBytes);
        Assert.Equal(3000 - 1024, Channel(status, 0x01).PendingSendBytes);

        AdvanceInRefillTicks(TendermintActors.Streams.Internal.MConnectionStage.MaxRefillTick);
        // The refill pays back the debt; then channels go by recentlySent / priority: 0x01 first.
        packet = remote.ExpectMsg<Packet>(Timeout).PacketMsg;
        Assert.Equal(0x01, packet.ChannelId);
        Assert.Equal(1024, packet.Data.Length);
    }

    [Fact]
    public void A_quiet_channel_sends_at_once_in_every_refill_period_and_the_long_run_rate_still_holds()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        // 1 000 000 B/s, paced at 980 000 (TokenBucket.PacedSendRate): a 98 000-byte burst, then 9 800 bytes per 10 ms tick.
        var settings = Unlimited with { SendRate = 1_000_000 };
        var handle = RunAgainst(settings, Channels, owner, Writes(), remote);
        static int Wire(PacketMsg p) => PacketCodec.SizeOfPacketMsg((byte)p.ChannelId, p.Eof, p.Data.Length);

        handle.Send(0x02, Bytes(4 * 1024 * 1024, 1)); // more than the test will let through
        ExpectBurst(remote, 0x02, 98_000);
        var pending = Channel(AwaitStatus(handle, owner), 0x02).PendingSendBytes;
        var packetSize = PacketCodec.SizeOfPacketMsg(0x02, eof: false, 1024);

        const int ticks = 30;
        long wire = 0;
        for (var tick = 0; tick < ticks; tick++)
        {
            // A 600-byte vote each period: with the budget spent it goes at once, as the channel is quiet again
            // after every refill (two of them would be over one packet's worth without the reset).
            handle.Send(0x01, Bytes(600, tick));
            var vote = remote.ExpectMsg<Packet>(Timeout).PacketMsg;
            Assert.Equal(0x01, vote.ChannelId);
            wire += Wire(vote);
            Assert.Equal(new MessagesSent(0x01, 1), owner.ExpectMsg<MessagesSent>(Timeout));

            AdvanceInRefillTicks(TendermintActors.Streams.Internal.MConnectionStage.MaxRefillTick);
            wire += TakeSent(handle, owner, remote, 0x02, ref pending).Sum(Wire);
        }

        // What went on the wire after the burst is what the refills paid for, give or take the debt (at most one
        // refill) and the packet that takes a bucket below zero.
        const long paid = ticks * 9_800L;
        Assert.InRange(wire, paid - 9_800 - 2 * packetSize, paid + 9_800 + 2 * packetSize);
    }

    [Fact]
    public void A_rate_under_100_bytes_a_second_holds_and_a_late_refill_counts_the_time_it_missed()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var settings = Unlimited with { SendRate = 50 }; // a 5-byte burst; half a byte per 10 ms tick
        var handle = RunAgainst(settings, Channels, owner, Writes(), remote);
        var wire = PacketCodec.SizeOfPacketMsg(0x02, eof: true, 100);

        handle.Send(0x02, Bytes(100, 1));
        handle.Send(0x02, Bytes(100, 2));
        Assert.Equal(100, remote.ExpectMsg<Packet>(Timeout).PacketMsg.Data.Length); // within the burst: 5 - wire left
        Assert.Equal(new MessagesSent(0x02, 1), owner.ExpectMsg<MessagesSent>(Timeout));
        // Each one-second step fires the refill timer once (the test scheduler does not catch up on missed ticks),
        // and that refill pays for the whole second: 50 bytes.
        MConnection.ConnectionStatus Status()
        {
            handle.RequestStatus();
            while (true) // the second message's MessagesSent may come first
            {
                var e = owner.ExpectMsg<IEvent>(Timeout);
                if (e is MConnection.Status status) return status.Connection;
                Assert.IsType<MessagesSent>(e);
            }
        }
        var seconds = 0;
        while (Channel(Status(), 0x02).PendingSendBytes > 0)
        {
            Assert.True(seconds < 10, "the second message never went");
            Clock.Advance(TimeSpan.FromSeconds(1));
            seconds++;
        }
        // The budget goes above zero after ceil((wire - 5 + 1) / 50) seconds: not before, and not at 1 byte a tick.
        Assert.Equal((wire - 5 + 1 + 49) / 50, seconds);
        Assert.Equal(100, remote.ExpectMsg<Packet>(Timeout).PacketMsg.Data.Length);
    }

    [Fact]
    public void With_a_10_ms_flush_throttle_refills_that_come_late_still_pay_the_whole_time()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        // 100 000 B/s with a 10 ms flush throttle: the burst is still three ticks' worth (3000 bytes), so a refill the
        // scheduler delivers 20 ms apart (its wheel turns every 10 ms) is not cut to one tick's worth by the cap.
        var settings = Unlimited with { SendRate = 100_000, FlushThrottle = TimeSpan.FromMilliseconds(10) };
        var handle = RunAgainst(settings, Channels, owner, Writes(), remote);

        handle.Send(0x02, Bytes(100_000, 1));
        // The burst is counted off the wire: a status asked for together with the send may be answered before the
        // stage has cut anything.
        var pending = 100_000L - ExpectBurst(remote, 0x02, 3000).Sum(p => p.Data.Length);
        Assert.Equal(pending, Channel(AwaitStatus(handle, owner), 0x02).PendingSendBytes);
        long sentLate = 0;
        for (var i = 0; i < 10; i++)
        {
            Clock.Advance(TimeSpan.FromMilliseconds(20)); // one refill per step, 20 ms after the last
            sentLate += TakeSent(handle, owner, remote, 0x02, ref pending).Sum(p => p.Data.Length);
        }
        // 200 ms at 100 000 B/s: 20 000 bytes of wire, ~19 400 of data; one refill's worth of cap would give half.
        Assert.InRange(sentLate, 17_000, 22_000);
    }

    [Fact]
    public void A_connection_over_its_send_budget_sends_again_after_one_refill_tick_and_keeps_the_rate()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        // 100 000 B/s: a 10 000-byte burst (100 ms worth), then 1000 bytes per 10 ms tick.
        var settings = Unlimited with { SendRate = 100_000 };
        var handle = RunAgainst(settings, Channels, owner, Writes(), remote);

        handle.Send(0x02, Bytes(30 * 1024, 1));
        var burst = 0;
        var sent = 0;
        // The burst: packets while the budget lasts, the last one taking it below zero.
        for (; sent < 10_000; burst++)
            sent += remote.ExpectMsg<Packet>(Timeout).PacketMsg.Data.Length;
        var pending = Channel(AwaitStatus(handle, owner), 0x02).PendingSendBytes;
        Assert.Equal(30 * 1024 - sent, pending);
        Assert.Equal(10, burst);

        // Each tick's 1000 bytes pay back the debt first; a packet goes as soon as the budget is above zero again:
        // the next within one or two ticks, not a whole 100 ms later. Over 100 ms, the rate holds.
        var ticks = 0;
        var packets = 0;
        int? firstPacketTick = null;
        while (ticks < 10)
        {
            AdvanceInRefillTicks(TendermintActors.Streams.Internal.MConnectionStage.MaxRefillTick);
            ticks++;
            packets += TakeSent(handle, owner, remote, 0x02, ref pending).Count;
            if (packets > 0)
                firstPacketTick ??= ticks;
        }
        Assert.InRange(firstPacketTick ?? int.MaxValue, 1, 2);
        Assert.InRange(packets * 1024, 10_000 - 1024, 10_000 + 1024);
    }

    /// <summary>
    /// The burst a connection with a full send budget writes at once: full 1024-byte packets on
    /// <paramref name="channel"/> until <paramref name="budget"/> bytes of wire are spent (the last one takes the
    /// budget below zero).
    /// </summary>
    private static List<PacketMsg> ExpectBurst(TestProbe remote, byte channel, int budget)
    {
        var packetSize = PacketCodec.SizeOfPacketMsg(channel, eof: false, 1024);
        var packets = new List<PacketMsg>();
        for (var i = 0; i < (budget + packetSize - 1) / packetSize; i++)
        {
            packets.Add(remote.ExpectMsg<Packet>(Timeout).PacketMsg);
            Assert.Equal(channel, (byte)packets[^1].ChannelId);
        }
        return packets;
    }

    /// <summary>
    /// The packets cut on <paramref name="channel"/> since its pending bytes were <paramref name="pending"/>, as many
    /// as the stage's status now says (the status also proves earlier timers and commands were handled);
    /// <paramref name="pending"/> moves on to the status's figure.
    /// </summary>
    private static List<PacketMsg> TakeSent(MConnectionHandle handle, TestProbe owner, TestProbe remote, byte channel, ref long pending)
    {
        var now = Channel(AwaitStatus(handle, owner), channel).PendingSendBytes;
        var packets = new List<PacketMsg>();
        while (pending > now)
        {
            packets.Add(remote.ExpectMsg<Packet>(Timeout).PacketMsg);
            Assert.Equal(channel, (byte)packets[^1].ChannelId);
            pending -= packets[^1].Data.Length;
        }
        return packets;
    }
}
