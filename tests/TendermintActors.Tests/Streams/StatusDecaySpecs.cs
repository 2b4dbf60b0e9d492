using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The send and receive stages' status-decay timers (send rate, receive rate, the scheduler's recently-sent counts)
/// run only while there is something to measure or decay: an idle connection has none, so idle peers do not wake the
/// node every two seconds each. Time moves on the test scheduler, one decay interval per step.
/// </summary>
public sealed class StatusDecaySpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] Channels = [new(0x20, 1)];

    [Fact]
    public void An_idle_connection_stops_its_decay_timers_and_starts_them_again_when_bytes_move()
    {
        var probeA = new StatusDecayProbe();
        var probeB = new StatusDecayProbe();
        var (a, _, ownerB) = RunProbedPair(Unlimited, Unlimited, Channels, probeA, probeB);

        a.Send(0x20, "hello"u8.ToArray());
        ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout);
        AwaitAssert(() => Assert.Equal((true, true), (probeA.SendDecaying, probeB.ReceiveDecaying)), Timeout);
        // B has sent nothing and A has read nothing: no timer there.
        Assert.Equal((false, false), (probeB.SendDecaying, probeA.ReceiveDecaying));

        // Enough decays for the packet's recently-sent count to reach 0 (fewer than 20 for a few bytes), well before
        // the first ping (60 s).
        for (var i = 0; i < 20; i++)
            Clock.Advance(Unlimited.StatusDecayInterval);
        AwaitAssert(() => Assert.Equal((false, false), (probeA.SendDecaying, probeB.ReceiveDecaying)), Timeout);

        a.Send(0x20, "again"u8.ToArray());
        ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout);
        AwaitAssert(() => Assert.Equal((true, true), (probeA.SendDecaying, probeB.ReceiveDecaying)), Timeout);
    }

    [Fact]
    public void A_connection_that_keeps_sending_keeps_its_decay_timers()
    {
        var probeA = new StatusDecayProbe();
        var probeB = new StatusDecayProbe();
        var (a, _, ownerB) = RunProbedPair(Unlimited, Unlimited, Channels, probeA, probeB);

        for (var i = 0; i < 10; i++)
        {
            a.Send(0x20, "tick"u8.ToArray());
            ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout);
            Clock.Advance(Unlimited.StatusDecayInterval);
            Assert.Equal((true, true), (probeA.SendDecaying, probeB.ReceiveDecaying));
        }
    }
}
