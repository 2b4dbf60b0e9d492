using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using Xunit.Abstractions;
using ByteString = Akka.IO.ByteString;

namespace TendermintActors.Tests.Support;

/// <summary>
/// Base of the in-memory MConnection specs: an actor system on Akka's <see cref="TestScheduler"/>, so that time moves
/// only when a spec advances it (no timer fires by itself, and no spec waits on the wall clock), plus ways to run one
/// MConnection against another or against a scripted remote.
/// </summary>
public abstract class MConnectionSpec(ITestOutputHelper output)
    : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"", output)
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Defaults without rate limits: the token buckets refill on the (virtual) clock, which these specs move by hand.</summary>
    protected static readonly MConnectionSettings Unlimited = new() { SendRate = 0, RecvRate = 0 };

    private ActorMaterializer? _materializer;

    protected ActorMaterializer Materializer => _materializer ??= Sys.Materializer();

    protected TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    /// <summary>
    /// Moves the clock on by <paramref name="total"/> one rate-limit refill tick at a time: the test scheduler fires
    /// a repeating timer once per <see cref="TestScheduler.Advance"/>, however far it goes.
    /// </summary>
    protected void AdvanceInRefillTicks(TimeSpan total)
    {
        for (var elapsed = TimeSpan.Zero; elapsed < total; elapsed += TendermintActors.Streams.Internal.MConnectionStage.MaxRefillTick)
            Clock.Advance(TendermintActors.Streams.Internal.MConnectionStage.MaxRefillTick);
    }

    /// <summary>Two MConnections back to back: A's output is B's input and B's output is A's input.</summary>
    private protected (MConnectionHandle A, MConnectionHandle B) RunPair(MConnectionSettings settings,
        IReadOnlyList<ChannelDescriptor> channels, IActorRef ownerA, IActorRef ownerB, IActorRef? tap = null)
    {
        var a = MConnection.Create(settings, channels, ownerA);
        var b = MConnection.Create(settings, channels, ownerB);
        if (tap is null)
            return a.JoinMaterialized(b, Keep.Both).Run(Materializer);
        var tappedB = PacketWire.Tap(tap, "A->B").ViaMaterialized(b, Keep.Right).Via(PacketWire.Tap(tap, "B->A"));
        return a.JoinMaterialized(tappedB, Keep.Both).Run(Materializer);
    }

    /// <summary>
    /// Two MConnections back to back, each with its own settings and a stage probe given as an attribute (the stages
    /// write what the probe shows): A's handle, and what each side tells its owner.
    /// </summary>
    private protected (MConnectionHandle A, TestProbe OwnerA, TestProbe OwnerB) RunProbedPair(MConnectionSettings settingsA,
        MConnectionSettings settingsB, IReadOnlyList<ChannelDescriptor> channels, Attributes.IAttribute probeA, Attributes.IAttribute probeB)
    {
        var ownerA = CreateTestProbe();
        var ownerB = CreateTestProbe();
        var (a, _) = MConnection.Create(settingsA, channels, ownerA).AddAttributes(new Attributes(probeA))
            .JoinMaterialized(MConnection.Create(settingsB, channels, ownerB).AddAttributes(new Attributes(probeB)), Keep.Both)
            .Run(Materializer);
        return (a, ownerA, ownerB);
    }

    /// <summary>
    /// One MConnection against a scripted remote: <paramref name="remoteInput"/> is what the remote writes, and every
    /// packet we write is told to <paramref name="remote"/>.
    /// </summary>
    private protected MConnectionHandle RunAgainst(MConnectionSettings settings, IReadOnlyList<ChannelDescriptor> channels,
        IActorRef owner, Source<ByteString, NotUsed> remoteInput, IActorRef remote) =>
        RunAgainst(settings, channels, owner, remoteInput, PacketWire.ToProbe(remote));

    private protected MConnectionHandle RunAgainst(MConnectionSettings settings, IReadOnlyList<ChannelDescriptor> channels,
        IActorRef owner, Source<ByteString, NotUsed> remoteInput, Sink<ByteString, NotUsed> remoteOutput) =>
        remoteInput.ViaMaterialized(MConnection.Create(settings, channels, owner), Keep.Right)
            .To(remoteOutput)
            .Run(Materializer);

    /// <summary>A remote that writes <paramref name="chunks"/> (each read only when we ask) and then stays open.</summary>
    protected static Source<ByteString, NotUsed> Writes(params ByteString[] chunks) =>
        Source.From(chunks).Concat(Source.Never<ByteString>());

    /// <summary>
    /// The connection's status, asked through the handle. It also proves that everything the handle and the timers
    /// sent before has been processed: the stage handles them in order.
    /// </summary>
    private protected static MConnection.ConnectionStatus AwaitStatus(MConnectionHandle handle, TestProbe owner)
    {
        handle.RequestStatus();
        return owner.ExpectMsg<MConnection.Status>(Timeout).Connection;
    }

    protected static MConnection.ChannelStatus Channel(MConnection.ConnectionStatus status, byte id) =>
        status.Channels.Single(c => c.Id == id);

    /// <summary>The next event must be a MessagesReceived carrying exactly one message: <paramref name="expected"/> on <paramref name="channel"/>.</summary>
    protected static void ExpectReceived(TestProbe owner, byte channel, byte[] expected) =>
        ExpectReceived(owner, (channel, expected));

    /// <summary>The next event must be one MessagesReceived carrying exactly <paramref name="expected"/>, in that order.</summary>
    protected static void ExpectReceived(TestProbe owner, params (byte Channel, byte[] Message)[] expected)
    {
        var received = owner.ExpectMsg<MConnection.MessagesReceived>(Timeout).Messages;
        Assert.Equal(expected.Length, received.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            var (channel, message) = expected[i];
            Assert.Equal(channel, received[i].Channel);
            Assert.True(message.AsSpan().SequenceEqual(received[i].Message.Span),
                $"message {i} on 0x{channel:x2}: expected {message.Length} bytes, got {received[i].Message.Length} that differ");
        }
    }

    protected static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
