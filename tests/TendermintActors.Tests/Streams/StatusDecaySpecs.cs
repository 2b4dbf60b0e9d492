using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The status a connection reports as time passes with no timer behind it: rates sampled over each status-decay
/// interval and the scheduler's recently-sent counts decayed at each, as the stages take the ticks due before they
/// report. Time moves on the test scheduler; nothing else wakes the stages.
/// </summary>
public sealed class StatusDecaySpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] Channels = [new(0x20, 1)];

    [Fact]
    public void Rates_and_recently_sent_counts_decay_tick_by_tick_while_the_connection_is_idle()
    {
        var ownerA = CreateTestProbe();
        var ownerB = CreateTestProbe();
        // No ping in the minute these steps take: only the message's bytes move.
        var (a, b) = RunPair(Unlimited with { PingInterval = TimeSpan.FromDays(1), PongTimeout = TimeSpan.FromHours(1) }, Channels, ownerA, ownerB);

        a.Send(0x20, Bytes(1000, 1));
        ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout);
        ownerA.ExpectMsg<MConnection.MessagesSent>(Timeout);
        var sent = AwaitStatus(a, ownerA);
        var written = sent.BytesSent;
        var recentlySent = Channel(sent, 0x20).RecentlySent;
        Assert.True(written > 1000 && recentlySent > 1000, $"sent {written}, recently {recentlySent}");
        Assert.Equal(0, sent.SendRate); // no interval has ended yet
        Assert.Equal(written, AwaitStatus(b, ownerB).BytesReceived);

        Clock.Advance(Unlimited.StatusDecayInterval);
        var perSecond = (long)(written / Unlimited.StatusDecayInterval.TotalSeconds);
        var afterOne = AwaitStatus(a, ownerA);
        Assert.Equal((perSecond, (long)(recentlySent * 0.8)), (afterOne.SendRate, Channel(afterOne, 0x20).RecentlySent));
        Assert.Equal(perSecond, AwaitStatus(b, ownerB).RecvRate);

        // Many intervals at once, read once: each was applied.
        Clock.Advance(Unlimited.StatusDecayInterval * 3);
        var expected = (long)(recentlySent * 0.8);
        for (var i = 0; i < 3; i++)
            expected = (long)(expected * 0.8);
        var afterFour = AwaitStatus(a, ownerA);
        Assert.Equal((0L, expected), (afterFour.SendRate, Channel(afterFour, 0x20).RecentlySent));
        Assert.Equal(0, AwaitStatus(b, ownerB).RecvRate);

        Clock.Advance(TimeSpan.FromSeconds(50)); // well before the first ping (60 s)
        Assert.Equal(0, Channel(AwaitStatus(a, ownerA), 0x20).RecentlySent);
    }

    [Fact]
    public void After_a_long_silence_the_rate_counts_only_the_bytes_since()
    {
        var ownerA = CreateTestProbe();
        var ownerB = CreateTestProbe();
        var (a, b) = RunPair(Unlimited with { PingInterval = TimeSpan.FromDays(1), PongTimeout = TimeSpan.FromHours(1) }, Channels, ownerA, ownerB);
        a.Send(0x20, Bytes(5000, 2));
        ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout);
        ownerA.ExpectMsg<MConnection.MessagesSent>(Timeout);
        var first = AwaitStatus(a, ownerA).BytesSent;

        // Off the old ticks' beat (an hour is a whole number of intervals): the ticks start again from the new bytes.
        Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        a.Send(0x20, Bytes(100, 3));
        ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout);
        ownerA.ExpectMsg<MConnection.MessagesSent>(Timeout);
        var second = AwaitStatus(a, ownerA).BytesSent - first;
        Clock.Advance(Unlimited.StatusDecayInterval - TimeSpan.FromMilliseconds(100));
        Assert.Equal((0L, 0L), (AwaitStatus(a, ownerA).SendRate, AwaitStatus(b, ownerB).RecvRate));
        Clock.Advance(TimeSpan.FromMilliseconds(100));

        var perSecond = (long)(second / Unlimited.StatusDecayInterval.TotalSeconds);
        Assert.Equal(perSecond, AwaitStatus(a, ownerA).SendRate);
        Assert.Equal(perSecond, AwaitStatus(b, ownerB).RecvRate);
    }
}
