using System.Reflection;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Akka.Streams.TestKit;
using Akka.TestKit;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using ByteString = Akka.IO.ByteString;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The MConnection's receive stage on its own, on the test scheduler's virtual clock: plaintext in (a probe or a source
/// fused with it, which reads only when the stage pulls), the send stage's commands in (a probe), and what it tells the
/// send stage out (a probe). Covers its liveness rules (pongs owed, pings due, the pong deadline) and its receive rate
/// limit; what it reads and delivers is covered end to end by the MConnection specs. A status request, answered to the
/// owner in the order the stage handles its inputs, proves that what a spec sent before was handled.
/// </summary>
public sealed class MConnectionReceiveStageSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    // A pong timeout well under the interval: no second ping comes due inside a spec's deadline.
    private static readonly MConnectionSettings Settings = Unlimited with { PongTimeout = TimeSpan.FromSeconds(10) };
    private static readonly TimeSpan PingInterval = Settings.PingInterval;
    private static readonly TimeSpan PongTimeout = Settings.PongTimeout;
    private static readonly ChannelDescriptor[] Channels = [new(0x20, 1), new(0x21, 1) { RecvBufferCapacity = 7 }];

    private sealed record Harness<TWire>(
        TWire Wire, TestPublisher.Probe<ReceiveCommands> Commands, TestSubscriber.Probe<LivenessSignal> Liveness, TestProbe Owner);

    private Harness<TWire> Run<TWire>(MConnectionSettings settings, Source<ByteString, TWire> wire)
    {
        var owner = CreateTestProbe();
        var (w, commands, liveness) = RunnableGraph.FromGraph(GraphDsl.Create(
            wire, this.SourceProbe<ReceiveCommands>(), this.SinkProbe<LivenessSignal>(), (w, c, l) => (w, c, l),
            (builder, w, c, l) =>
            {
                var receive = builder.Add(new MConnectionReceiveStage(settings, Channels, owner.Ref));
                builder.From(w).To(receive.In0);
                builder.From(c).To(receive.In1);
                builder.From(receive.Out).To(l);
                return ClosedShape.Instance;
            })).Run(Materializer);
        liveness.Request(100);
        return new Harness<TWire>(w, commands, liveness, owner);
    }

    /// <summary>The stage with a probe as the remote; started (its ping timer runs) once it has answered a ping.</summary>
    private Harness<TestPublisher.Probe<ByteString>> Run()
    {
        var h = Run(Settings, this.SourceProbe<ByteString>());
        Assert.True(Answer(h).PongOwed);
        return h;
    }

    private static ByteString Ping => ByteString.FromBytes(PacketCodec.EncodedPing.ToArray());
    private static ByteString Pong => ByteString.FromBytes(PacketCodec.EncodedPong.ToArray());

    /// <summary>Reads a ping (after <paramref name="before"/>) and returns what the stage tells the send stage.</summary>
    private static LivenessSignal Answer(Harness<TestPublisher.Probe<ByteString>> h, ByteString? before = null)
    {
        h.Wire.SendNext(before is null ? Ping : before.Concat(Ping));
        return h.Liveness.ExpectNext(Timeout);
    }

    /// <summary>Sends <paramref name="commands"/> and a status request, and returns the status once the owner has it.</summary>
    private static MConnection.ConnectionStatus Command<T>(Harness<T> h, Action<ReceiveCommands>? commands = null)
    {
        var batch = new ReceiveCommands();
        commands?.Invoke(batch);
        batch.Items.Add(new ReceiveCommand(0, 0, new SendStatus([], 0, 0)));
        h.Commands.SendNext(batch);
        return h.Owner.ExpectMsg<MConnection.Status>(Timeout).Connection;
    }

    private static void PauseReads(ReceiveCommands batch, bool pause) => batch.Items.Add(new ReceiveCommand(0, 0, null, BudgetPause: pause));

    [Fact]
    public void A_ping_is_due_every_interval_and_a_missing_pong_fails_with_a_peer_timeout()
    {
        var h = Run();

        Clock.Advance(PingInterval);
        var due = h.Liveness.ExpectNext(Timeout);
        Assert.True(due.PingDue);
        Assert.False(due.PongOwed);

        Clock.Advance(PongTimeout);
        var error = Assert.IsType<PeerTimeoutException>(h.Liveness.ExpectError());
        Assert.Equal("timeout/pong", error.Code);
    }

    [Fact]
    public void A_burst_of_pings_owes_one_pong()
    {
        var h = Run(Settings, this.SourceProbe<ByteString>());
        h.Wire.SendNext(Ping.Concat(Ping).Concat(Ping));
        var answer = h.Liveness.ExpectNext(Timeout);
        Assert.True(answer.PongOwed);
        // A second pong owed would be told before the ping due.
        Clock.Advance(PingInterval);
        var next = h.Liveness.ExpectNext(Timeout);
        Assert.True(next.PingDue);
        Assert.False(next.PongOwed);
    }

    [Fact]
    public void A_pong_read_clears_the_deadline()
    {
        var h = Run();
        Clock.Advance(PingInterval);
        Assert.True(h.Liveness.ExpectNext(Timeout).PingDue);

        Assert.True(Answer(h, before: Pong).PongOwed);
        Clock.Advance(PongTimeout + TimeSpan.FromSeconds(1));
        var answer = Answer(h);
        Assert.True(answer.PongOwed);
        Assert.False(answer.PingDue);
    }

    [Fact]
    public void While_reads_are_paused_the_deadline_waits_and_runs_in_full_once_they_resume()
    {
        var h = Run();
        Clock.Advance(PingInterval);
        Assert.True(h.Liveness.ExpectNext(Timeout).PingDue);
        // The node's buffer budget pauses reads: the read already asked for is still taken, then no more.
        Assert.True(Command(h, c => PauseReads(c, true)).ReceivePaused);

        Clock.Advance(PongTimeout + TimeSpan.FromSeconds(1));
        Assert.True(Answer(h).PongOwed); // still alive: the pong may be behind our own pause

        Assert.False(Command(h, c => PauseReads(c, false)).ReceivePaused);
        Clock.Advance(PongTimeout - TimeSpan.FromSeconds(1));
        Assert.True(Answer(h).PongOwed); // a fresh timeout from the resumption
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.IsType<PeerTimeoutException>(h.Liveness.ExpectError());
    }

    [Theory]
    [InlineData("output closed")]
    [InlineData("input finished")]
    public void Once_a_direction_has_ended_no_ping_is_due_and_no_pong_awaited(string ended)
    {
        var h = Run();
        Clock.Advance(PingInterval);
        Assert.True(h.Liveness.ExpectNext(Timeout).PingDue);

        if (ended == "output closed")
        {
            Command(h, c => c.OutputClosed = true); // told nothing: the send stage closed it
        }
        else
        {
            h.Wire.SendComplete();
            Assert.True(h.Liveness.ExpectNext(Timeout).InputFinished);
        }
        Clock.Advance(PongTimeout); // the deadline of the ping above would have passed
        Clock.Advance(PingInterval);
        Clock.Advance(PingInterval);
        Command(h); // the timers' callbacks came before it, and anything they told the send stage before its answer
        h.Liveness.ExpectNoMsg(TimeSpan.Zero); // no ping due, no failure
    }

    [Fact]
    public void While_the_receive_budget_is_spent_the_deadline_waits_and_runs_in_full_once_a_refill_resumes_reads()
    {
        // 50 B/s, read at up to 51 (TokenBucket.ReceiveAllowance): a 5-byte burst. A 1021-byte packet leaves a debt of
        // ~1016 bytes, ~20 s of refills: longer than the pong timeout, so the deadline passes while reads are paused.
        var h = Run(Settings with { RecvRate = 50 }, this.SourceProbe<ByteString>());
        Assert.True(Answer(h).PongOwed);
        Clock.Advance(PingInterval);
        Assert.True(h.Liveness.ExpectNext(Timeout).PingDue);
        var message = Bytes(1012, 3);
        h.Wire.SendNext(Packet(message));
        ExpectReceived(h.Owner, 0x20, message);
        Assert.True(Command(h).ReceivePaused);

        Clock.Advance(PongTimeout + TimeSpan.FromSeconds(1)); // a refill (11 s: 561 bytes), then the deadline
        Assert.True(Command(h).ReceivePaused); // still alive: the pong may be behind our own pause
        h.Liveness.ExpectNoMsg(TimeSpan.Zero);

        // A refill pays the rest: reads resume, and the deadline runs from then, whether or not anything is read (a
        // status request only reads; a read would notice the resumption too).
        Clock.Advance(TimeSpan.FromSeconds(9));
        Assert.False(Command(h).ReceivePaused);
        Clock.Advance(PongTimeout - TimeSpan.FromSeconds(1));
        Assert.True(Answer(h).PongOwed); // a fresh timeout from the resumption
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.IsType<PeerTimeoutException>(h.Liveness.ExpectError());
    }

    [Fact]
    public void A_channel_that_never_received_reports_its_window_and_takes_an_acknowledgement_harmlessly()
    {
        var h = Run(Settings with { ReceiveWindowBytes = 4096 }, Writes(Packet(Bytes(100, 4))));
        ExpectReceived(h.Owner, 0x20, Bytes(100, 4));
        var batch = new ReceiveCommands();
        batch.Items.Add(new ReceiveCommand(0x21, 3, null)); // nothing was delivered on it
        batch.Items.Add(new ReceiveCommand(0, 0, new SendStatus(
            [new ChannelSendStatus(0x20, 1, 100, 0, 0, 0), new ChannelSendStatus(0x21, 1, 100, 0, 0, 0)], 0, 0)));
        h.Commands.SendNext(batch);
        var status = h.Owner.ExpectMsg<MConnection.Status>(Timeout).Connection;

        var used = Channel(status, 0x20);
        Assert.Equal((1, 100L, 4096L), (used.ReceivedUnacknowledged, used.ReceivedUnacknowledgedBytes, used.ReceiveWindowBytes));
        var idle = Channel(status, 0x21);
        Assert.Equal((0, 7, 0L, 4096L), (idle.ReceivedUnacknowledged, idle.ReceiveBound, idle.ReceivedUnacknowledgedBytes, idle.ReceiveWindowBytes));
    }

    [Fact]
    public void Reads_spend_the_receive_budget_and_pause_until_a_refill_brings_it_back()
    {
        // 10 000 B/s, read at up to 10 200 (TokenBucket.ReceiveAllowance): a 1020-byte burst, 102 bytes per 10 ms refill.
        var first = Bytes(1016, 1);
        var second = Bytes(10, 2);
        var firstPacket = Packet(first);
        Assert.InRange(firstPacket.Count, 1021, 1020 + 101); // spends the burst; one refill pays the debt
        var h = Run(Settings with { RecvRate = 10_000 }, Writes(firstPacket, Packet(second)));

        ExpectReceived(h.Owner, 0x20, first);
        Assert.True(Command(h).ReceivePaused); // spent: the second packet is not read

        Command(h, c => c.Items.Add(new ReceiveCommand(0x20, 1, null))); // acknowledged: the window is not what holds it
        AdvanceInRefillTicks(MConnectionStage.MaxRefillTick);
        ExpectReceived(h.Owner, 0x20, second);
        Assert.False(Command(h).ReceivePaused);
    }

    [Fact]
    public void Without_a_receive_limit_reads_never_pause()
    {
        var first = Bytes(1016, 1);
        var h = Run(Settings, Writes(Packet(first), Packet(first), Packet(first)));
        for (var i = 0; i < 3; i++)
            ExpectReceived(h.Owner, 0x20, first); // one read each, back to back
        Assert.False(Command(h).ReceivePaused);
    }

    [Fact]
    public void The_stages_make_no_log_source_with_their_logic()
    {
        // Akka's GraphStageLogic(Shape) makes one from the shape's text for every logic: ~0.25 KiB an idle peer holds.
        var field = typeof(GraphStageLogic).GetField("<LogSource>k__BackingField", BindingFlags.Instance | BindingFlags.NonPublic);
        Assert.NotNull(field);
        var owner = CreateTestProbe().Ref;
        GraphStageLogic[] logics =
        [
            LogicOf(new MConnectionReceiveStage(Settings, Channels, owner)),
            LogicOf(new MConnectionSendStage(Settings, Channels, owner)),
        ];
        foreach (var logic in logics)
        {
            Assert.Null(field.GetValue(logic));
            Assert.False(((TimerLogic)logic).HasLogSource);
        }
    }

    /// <summary>A logic made as a materialisation makes it, once the stage's ports are numbered (as fusing numbers them).</summary>
    private static GraphStageLogic LogicOf<TShape, TMat>(GraphStageWithMaterializedValue<TShape, TMat> stage) where TShape : Shape
    {
        foreach (var (port, i) in stage.Shape.Inlets.Select((p, i) => (p, i)))
            SetId(port, i);
        foreach (var (port, i) in stage.Shape.Outlets.Select((p, i) => (p, i)))
            SetId(port, i);
        return stage.CreateLogicAndMaterializedValue(Attributes.None).Logic;
    }

    private static void SetId(object port, int id)
    {
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
        for (var t = port.GetType(); t is not null; t = t.BaseType)
        {
            if (t.GetProperty("Id", Any | BindingFlags.DeclaredOnly) is { } property)
            {
                property.SetValue(port, id);
                return;
            }
            if (t.GetField("Id", Any | BindingFlags.DeclaredOnly) is { } field)
            {
                field.SetValue(port, id);
                return;
            }
        }
        throw new InvalidOperationException($"{port.GetType()} has no Id");
    }

    private static ByteString Packet(byte[] message)
    {
        var packet = new byte[PacketCodec.SizeOfPacketMsg(0x20, eof: true, message.Length)];
        PacketCodec.WritePacketMsg(packet, 0x20, eof: true, message);
        return ByteString.FromBytes(packet);
    }
}
