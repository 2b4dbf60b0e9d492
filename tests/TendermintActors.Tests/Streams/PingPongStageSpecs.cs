using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The MConnection's ping/pong stage on its own, between probes standing for the receive stage (what was read) and the
/// send stage (what must be written), on the test scheduler's virtual clock. Each spec proves that what it sent and
/// the timers it fired were handled by reading the answer to a later ping.
/// </summary>
public sealed class PingPongStageSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    // A pong timeout well under the interval: no second ping comes due inside a spec's deadline.
    private static readonly MConnectionSettings Settings = Unlimited with { PongTimeout = TimeSpan.FromSeconds(10) };
    private static readonly TimeSpan PingInterval = Settings.PingInterval;
    private static readonly TimeSpan PongTimeout = Settings.PongTimeout;

    private (TestPublisher.Probe<LinkSignal> Read, TestSubscriber.Probe<LivenessSignal> Write) Run()
    {
        var (read, write) = this.SourceProbe<LinkSignal>()
            .Via(new PingPongStage(Settings))
            .ToMaterialized(this.SinkProbe<LivenessSignal>(), Keep.Both)
            .Run(Materializer);
        write.Request(100);
        // The stage has started (its ping timer runs) once it answers.
        Assert.True(Answer(read, write).PongOwed);
        return (read, write);
    }

    /// <summary>Reads a ping (with <paramref name="signal"/>'s other facts) and returns what the stage says to write.</summary>
    private static LivenessSignal Answer(TestPublisher.Probe<LinkSignal> read, TestSubscriber.Probe<LivenessSignal> write,
        LinkSignal? signal = null)
    {
        signal ??= new LinkSignal();
        signal.PingReceived = true;
        read.SendNext(signal);
        return write.ExpectNext(Timeout);
    }

    [Fact]
    public void A_ping_is_due_every_interval_and_a_missing_pong_fails_with_a_peer_timeout()
    {
        var (_, write) = Run();

        Clock.Advance(PingInterval);
        var due = write.ExpectNext(Timeout);
        Assert.True(due.PingDue);
        Assert.False(due.PongOwed);

        Clock.Advance(PongTimeout);
        var error = Assert.IsType<PeerTimeoutException>(write.ExpectError());
        Assert.Equal("timeout/pong", error.Code);
    }

    [Fact]
    public void A_pong_read_clears_the_deadline()
    {
        var (read, write) = Run();
        Clock.Advance(PingInterval);
        Assert.True(write.ExpectNext(Timeout).PingDue);

        Assert.True(Answer(read, write, new LinkSignal { PongReceived = true }).PongOwed);
        Clock.Advance(PongTimeout + TimeSpan.FromSeconds(1));
        var answer = Answer(read, write);
        Assert.True(answer.PongOwed);
        Assert.False(answer.PingDue);
    }

    [Fact]
    public void While_reads_are_paused_the_deadline_waits_and_runs_in_full_once_they_resume()
    {
        var (read, write) = Run();
        Clock.Advance(PingInterval);
        Assert.True(write.ExpectNext(Timeout).PingDue);
        Answer(read, write, new LinkSignal { ReadsPaused = true });

        Clock.Advance(PongTimeout + TimeSpan.FromSeconds(1));
        Assert.True(Answer(read, write).PongOwed); // still alive: the pong may be behind our own pause

        Answer(read, write, new LinkSignal { ReadsPaused = false });
        Clock.Advance(PongTimeout - TimeSpan.FromSeconds(1));
        Assert.True(Answer(read, write).PongOwed); // a fresh timeout from the resumption
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.IsType<PeerTimeoutException>(write.ExpectError());
    }

    [Theory]
    [InlineData("output closed")]
    [InlineData("input finished")]
    public void Once_a_direction_has_ended_no_ping_is_due_and_no_pong_awaited(string ended)
    {
        var (read, write) = Run();
        Clock.Advance(PingInterval);
        Assert.True(write.ExpectNext(Timeout).PingDue);

        var signal = ended == "output closed" ? new LinkSignal { OutputClosed = true } : new LinkSignal { InputFinished = true };
        Assert.Equal(ended == "input finished", Answer(read, write, signal).InputFinished);
        Clock.Advance(PingInterval);
        Clock.Advance(PingInterval);
        var answer = Answer(read, write);
        Assert.False(answer.PingDue);
    }
}
