using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;
using TendermintActors.Streams;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using static TendermintActors.Streams.MConnection;

namespace TendermintActors.Tests.Streams;

/// <summary>Pings, pongs and the pong timeout (docs/protocol.md §5), on the test scheduler's virtual clock.</summary>
public sealed class MConnectionLivenessSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] Channels = [new(0x01, 1)];
    private static readonly TimeSpan PingInterval = Unlimited.PingInterval;
    private static readonly TimeSpan PongTimeout = Unlimited.PongTimeout;

    [Fact]
    public void Each_side_pings_every_interval_and_the_other_answers_with_a_pong()
    {
        var ownerA = CreateTestProbe();
        var ownerB = CreateTestProbe();
        var tap = CreateTestProbe();
        var (a, b) = RunPair(Unlimited, Channels, ownerA, ownerB, tap);
        // Both stages have started (and so scheduled their timers) once they answer.
        AwaitStatus(a, ownerA);
        AwaitStatus(b, ownerB);

        Clock.Advance(PingInterval - TimeSpan.FromSeconds(1));
        AwaitStatus(a, ownerA);
        AwaitStatus(b, ownerB);
        tap.ExpectNoMsg(TimeSpan.Zero);

        Clock.Advance(TimeSpan.FromSeconds(1));
        var seen = Enumerable.Range(0, 4)
            .Select(_ => tap.ExpectMsg<PacketWire.Tapped>(Timeout))
            .Select(t => $"{t.Direction} {t.Packet.SumCase}")
            .Order()
            .ToList();
        Assert.Equal(["A->B PacketPing", "A->B PacketPong", "B->A PacketPing", "B->A PacketPong"], seen);

        // The pongs cleared both deadlines: nothing fails when the timeout passes.
        Clock.Advance(PongTimeout + TimeSpan.FromSeconds(1));
        AwaitStatus(a, ownerA);
        AwaitStatus(b, ownerB);
        Assert.False(a.Completion.IsCompleted);
        Assert.False(b.Completion.IsCompleted);
    }

    [Fact]
    public void A_missing_pong_fails_the_connection_with_a_peer_timeout_when_the_timeout_passes()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var handle = RunAgainst(Unlimited, Channels, owner, Writes(), remote); // a remote that never answers
        AwaitStatus(handle, owner);

        Clock.Advance(PingInterval);
        Assert.Equal(Packet.SumOneofCase.PacketPing, remote.ExpectMsg<Packet>(Timeout).SumCase);

        Clock.Advance(PongTimeout - TimeSpan.FromSeconds(1));
        AwaitStatus(handle, owner);

        Clock.Advance(TimeSpan.FromSeconds(1));
        var error = Assert.IsType<PeerTimeoutException>(owner.ExpectMsg<Stopped>(Timeout).Reason);
        Assert.Equal("timeout/pong", error.Code);
        Assert.IsType<PeerTimeoutException>(remote.ExpectMsg<PacketWire.RemoteFailed>(Timeout).Error);
        var completion = Assert.Throws<AggregateException>(() => handle.Completion.Wait(Timeout));
        Assert.IsType<PeerTimeoutException>(completion.InnerException);
    }

    [Fact]
    public void A_burst_of_pings_is_answered_with_a_single_pong()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var handle = RunAgainst(Unlimited, Channels, owner,
            Writes(PacketWire.Chunk(PacketWire.Ping(), PacketWire.Ping(), PacketWire.Ping())), remote);

        Assert.Equal(Packet.SumOneofCase.PacketPong, remote.ExpectMsg<Packet>(Timeout).SumCase);
        handle.Send(0x01, "after"u8.ToArray());
        // The next thing written is the message: the other two pings owed nothing more.
        Assert.Equal(Packet.SumOneofCase.PacketMsg, remote.ExpectMsg<Packet>(Timeout).SumCase);
    }

    [Fact]
    public void A_pong_nobody_asked_for_is_harmless()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var handle = RunAgainst(Unlimited, Channels, owner,
            Writes(PacketWire.Chunk(PacketWire.Pong(), PacketWire.Message(0x01, "hi"u8))), remote);

        ExpectReceived(owner, 0x01, "hi"u8.ToArray());
        Assert.False(AwaitStatus(handle, owner).ReceivePaused);
    }
}
