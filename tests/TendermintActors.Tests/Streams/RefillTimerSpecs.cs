using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The rate limits' refill timers (the send stage's and the receive rate limiter's) run only while a stage waits for
/// budget: a ping, a pong or a small message now and then leaves budget behind and costs no timer (a timer costs a
/// scheduler registration and a wake-up or more: docs/performance.md, "After the first ping"), the time that passed
/// without one being credited before the next spend. Time moves on the test scheduler.
/// </summary>
public sealed class RefillTimerSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] Channels = [new(0x20, 1)];

    private (MConnectionHandle A, RefillProbe ProbeA, RefillProbe ProbeB, Akka.TestKit.TestProbe OwnerB) Run(
        MConnectionSettings settingsA, MConnectionSettings settingsB)
    {
        var (probeA, probeB) = (new RefillProbe(), new RefillProbe());
        var (a, _, ownerB) = RunProbedPair(settingsA, settingsB, Channels, probeA, probeB);
        return (a, probeA, probeB, ownerB);
    }

    /// <summary>Moves the clock one refill tick at a time until <paramref name="refilling"/> is false.</summary>
    private void StopsAfterTicks(Func<bool> refilling) =>
        AwaitAssert(() =>
        {
            AdvanceInRefillTicks(MConnectionStage.MaxRefillTick);
            Assert.False(refilling());
        }, Timeout, TimeSpan.FromMilliseconds(1));

    [Fact]
    public void At_the_default_rate_limits_small_messages_now_and_then_start_no_refill_timer()
    {
        var defaults = new MConnectionSettings();
        Assert.True(defaults.SendRate > 0 && defaults.RecvRate > 0);
        var (a, probeA, probeB, ownerB) = Run(defaults, defaults);

        for (var i = 0; i < 5; i++)
        {
            a.Send(0x20, new byte[1000]);
            Assert.Equal(1000, ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout).Messages.Single().Message.Length);
            Clock.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal((0, 0), (probeA.Starts, probeB.Starts));
    }

    [Fact]
    public void A_transfer_that_spends_the_send_budget_runs_the_refill_timer_until_the_bucket_is_full_again()
    {
        // 100 000 B/s: a 10 000-byte burst, then 1000 bytes per 10 ms tick; 30 KiB spend it.
        var (a, probeA, probeB, ownerB) = Run(Unlimited with { SendRate = 100_000 }, Unlimited);
        a.Send(0x20, new byte[30 * 1024]);
        AwaitAssert(() => Assert.True(probeA.SendRefilling), Timeout);

        // Tick by tick: the rest goes out as refills allow (~20 ticks), the bucket fills up again (10 more), and a
        // tick that finds it full stops the timer.
        StopsAfterTicks(() => probeA.SendRefilling);
        Assert.Equal(30 * 1024, ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout).Messages.Single().Message.Length);
        Assert.Equal(1, probeA.Starts);
        Assert.Equal(0, probeB.Starts); // B's receive side is unlimited
    }

    [Fact]
    public void Reads_that_spend_the_receive_budget_run_its_refill_timer_until_the_bucket_is_full_again()
    {
        var (a, probeA, probeB, ownerB) = Run(Unlimited, Unlimited with { RecvRate = 100_000 });
        a.Send(0x20, new byte[30 * 1024]);
        AwaitAssert(() => Assert.True(probeB.ReceiveRefilling), Timeout);

        StopsAfterTicks(() => probeB.ReceiveRefilling);
        Assert.Equal(30 * 1024, ownerB.ExpectMsg<MConnection.MessagesReceived>(Timeout).Messages.Single().Message.Length);
        Assert.Equal(1, probeB.Starts);
        Assert.Equal(0, probeA.Starts);
    }
}
