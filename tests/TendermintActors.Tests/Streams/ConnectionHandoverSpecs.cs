using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Streams.Internal;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The handover between a connection's lower part (transport, SecretConnection) and its upper part (the peer's
/// MConnection), with probes standing in for both: what the lower part reads before the upper attaches is copied and
/// kept, and ends and failures cross both ways.
/// </summary>
public sealed class ConnectionHandoverSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>Opened plaintext in (from the SecretConnection), plaintext to seal out.</summary>
    private sealed record Side(TestPublisher.Probe<ByteString> In, TestSubscriber.Probe<ByteString> Out);

    private Side Run(Flow<ByteString, ByteString, Akka.NotUsed> flow)
    {
        var (input, output) = this.SourceProbe<ByteString>().Via(flow).ToMaterialized(this.SinkProbe<ByteString>(), Keep.Both)
            .Run(Sys.Materializer());
        return new Side(input, output);
    }

    /// <summary>
    /// Runs <paramref name="flow"/> and returns the actor its stream runs in, to stop that stream alone (the system's
    /// materializers share one stream supervisor, so shutting one down would stop every stream of the spec).
    /// </summary>
    private (Side Side, IActorRef StreamActor) RunInActor(Flow<ByteString, ByteString, Akka.NotUsed> flow)
    {
        var before = StreamActors();
        var side = Run(flow);
        var added = StreamActors();
        added.ExceptWith(before);
        return (side, Assert.Single(added));
    }

    private HashSet<IActorRef> StreamActors()
    {
        var supervisor = (ActorRefWithCell)((ActorMaterializer)Sys.Materializer()).Supervisor;
        // Until the supervisor has started, its cell is a placeholder without children.
        AwaitCondition(() => supervisor.Underlying is ActorCell, Dilated(Timeout));
        return ((ActorCell)supervisor.Underlying).GetChildren().Cast<IActorRef>().ToHashSet();
    }

    private static ByteString Bytes(string text) => ByteString.FromBytes(System.Text.Encoding.ASCII.GetBytes(text));

    [Fact]
    public void What_the_lower_part_reads_before_the_upper_attaches_is_copied_kept_and_delivered_with_its_end()
    {
        var handover = new ConnectionHandover(prefetchBytes: 1024);
        var lower = Run(handover.Lower);
        var lent = System.Text.Encoding.ASCII.GetBytes("hello");
        lower.In.SendNext(ByteString.FromBytes(lent));
        lower.In.SendNext(Bytes("!"));
        lower.In.SendComplete();
        // The remote closed: our direction is closed too, before any upper part attaches.
        lower.Out.Request(1);
        lower.Out.ExpectComplete();
        // The lender has long pulled again and may reuse its buffer: the handover kept copies.
        lent.AsSpan().Fill((byte)'x');

        var upper = Run(handover.Upper);
        upper.Out.Request(3);
        Assert.Equal(Bytes("hello"), upper.Out.ExpectNext(Dilated(Timeout)));
        Assert.Equal(Bytes("!"), upper.Out.ExpectNext(Dilated(Timeout)));
        upper.Out.ExpectComplete();
    }

    [Fact]
    public void A_failure_of_the_lower_part_reaches_the_upper_part_as_it_is()
    {
        var handover = new ConnectionHandover(prefetchBytes: 0);
        var lower = Run(handover.Lower);
        var upper = Run(handover.Upper);
        var failure = new IOException("reset");

        upper.Out.Request(1);
        lower.In.ExpectRequest();
        lower.In.SendError(failure);

        Assert.Same(failure, upper.Out.ExpectError());
    }

    [Fact]
    public void The_upper_part_stopping_abruptly_ends_the_lower_part()
    {
        var handover = new ConnectionHandover(prefetchBytes: 0);
        var lower = Run(handover.Lower);
        var (upper, upperActor) = RunInActor(handover.Upper);
        upper.Out.Request(1);
        lower.In.ExpectRequest();

        // As when the actor the upper part runs in is stopped.
        Sys.Stop(upperActor);

        lower.In.ExpectCancellation();
        lower.Out.Request(1);
        // Either as the stream's abort reached our stage's ports, or from its PostStop: both mean "stopped".
        Assert.True(lower.Out.ExpectError() is AbruptTerminationException or AbruptStageTerminationException);
    }

    [Fact]
    public void The_upper_part_has_ended_only_once_its_last_write_and_its_end_have_crossed_to_the_lower_part()
    {
        var handover = new ConnectionHandover(prefetchBytes: 0);
        var lower = Run(handover.Lower);
        var upper = Run(handover.Upper);
        // The remote's end reaches the MConnection...
        upper.Out.Request(1);
        lower.In.SendComplete();
        upper.Out.ExpectComplete();
        // ...which writes its last bytes and ends, while the lower part has not asked for them yet.
        upper.In.SendNext(Bytes("bye"));
        upper.In.SendComplete();

        // The last write still waits in the handover: stopping the peer now would cut it (and reset the socket).
        Assert.False(handover.UpperEnded.IsCompleted);

        lower.Out.Request(2);
        Assert.Equal(Bytes("bye"), lower.Out.ExpectNext(Dilated(Timeout)));
        lower.Out.ExpectComplete();
        Assert.True(handover.UpperEnded.Wait(Dilated(Timeout)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_lower_part_stopping_abruptly_before_the_upper_part_attaches_ends_the_upper_part_when_it_does(bool seenStopped)
    {
        var handover = new ConnectionHandover(prefetchBytes: 0);
        var (lower, lowerActor) = RunInActor(handover.Lower);

        // As when the actor the lower part runs in is stopped while the switch decides. The upper part attaches
        // after the lower part has stopped, or while it may be stopping (its Attached then goes to a stopped stage).
        Watch(lowerActor);
        Sys.Stop(lowerActor);
        if (seenStopped)
            ExpectTerminated(lowerActor);
        var upper = Run(handover.Upper);

        upper.Out.Request(1);
        Assert.True(upper.Out.ExpectError() is AbruptTerminationException or AbruptStageTerminationException);
        upper.In.ExpectCancellation();
    }

    [Fact]
    public void An_abandoned_handover_ends_the_lower_part_with_the_reason()
    {
        var handover = new ConnectionHandover(prefetchBytes: 0);
        var lower = Run(handover.Lower);
        var reason = new InvalidOperationException("refused");

        handover.Abandon(reason);

        lower.In.ExpectCancellation();
        lower.Out.Request(1);
        Assert.Same(reason, lower.Out.ExpectError());
    }
}
