using TendermintActors.Protocol.Switch;

namespace TendermintActors.Protocol.Tests.Switch;

public class RedialScheduleTests
{
    private static Func<double> Fixed(double r) => () => r;

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    private static List<TimeSpan?> Delays(RedialSchedule schedule, int count) =>
        Enumerable.Range(0, count).Select(schedule.NextDelay).ToList();

    private static readonly double[] Powers = [1, 3, 9, 27, 81, 243, 729, 2187, 6561, 19683];

    [Fact]
    public void Without_jitter_the_schedule_is_Go_reconnectToPeer_then_gives_up()
    {
        var schedule = new RedialSchedule(Fixed(0));
        var expected = new List<TimeSpan?> { TimeSpan.Zero };                // the first redial goes at once
        expected.AddRange(Enumerable.Repeat<TimeSpan?>(S(5), 19));          // the rest of the 20 tries, 5 s apart
        expected.Add(S(5 + 1));                                             // Go sleeps 5 s, then 3^0 s, back to back
        expected.AddRange(Powers.Skip(1).Select(p => (TimeSpan?)S(p)));     // 3^1 .. 3^9
        Assert.Equal(30, schedule.TotalAttempts);
        Assert.Equal(expected, Delays(schedule, 30));
        Assert.Null(schedule.NextDelay(30));
        Assert.Null(schedule.NextDelay(31));
        Assert.Null(schedule.NextDelay(1000));
    }

    [Fact]
    public void With_maximum_jitter_every_wait_but_the_first_gets_3_s_more()
    {
        var schedule = new RedialSchedule(Fixed(1));
        var expected = new List<TimeSpan?> { TimeSpan.Zero };
        expected.AddRange(Enumerable.Repeat<TimeSpan?>(S(8), 19));
        expected.Add(S(5 + 3 + 1 + 3));                                    // both sleeps of the seam are jittered
        expected.AddRange(Powers.Skip(1).Select(p => (TimeSpan?)S(p + 3)));
        Assert.Equal(expected, Delays(schedule, 30));
        Assert.Null(schedule.NextDelay(30));
    }

    [Fact]
    public void Jitter_scales_with_the_random_source()
    {
        var draws = new Queue<double>([0.5, 0.1, 0.2]);
        var schedule = new RedialSchedule(() => draws.Dequeue());
        Assert.Equal(S(6.5), schedule.NextDelay(1));
        Assert.Equal(S(5 + 0.3 + 1 + 0.6), schedule.NextDelay(20));
        Assert.Empty(draws);
    }

    [Fact]
    public void A_max_dial_period_caps_every_wait_and_retries_forever()
    {
        var schedule = new RedialSchedule(Fixed(1), maxDialPeriod: S(60));
        Assert.True(schedule.IsUnbounded);
        var delays = Delays(schedule, 30);
        Assert.Equal(TimeSpan.Zero, delays[0]);
        Assert.All(delays.Skip(1).Take(19), d => Assert.Equal(S(8), d));
        Assert.Equal(S(12), delays[20]);
        Assert.Equal([S(6), S(12), S(30)], delays.Skip(21).Take(3));         // 3 + 3, 9 + 3, 27 + 3: under the cap
        Assert.All(delays.Skip(24), d => Assert.Equal(S(60), d));            // 81 + 3 and beyond: capped
        Assert.Equal(S(60), schedule.NextDelay(30));
        Assert.Equal(S(60), schedule.NextDelay(10_000));
    }

    [Fact]
    public void A_max_dial_period_shorter_than_the_interval_caps_the_first_loop_too()
    {
        var schedule = new RedialSchedule(Fixed(0.5), maxDialPeriod: S(2));
        Assert.Equal(TimeSpan.Zero, schedule.NextDelay(0));
        Assert.All(Delays(schedule, 40).Skip(1), d => Assert.Equal(S(2), d));
    }

    [Fact]
    public void A_zero_max_dial_period_means_no_cap()
    {
        var schedule = new RedialSchedule(Fixed(0), maxDialPeriod: TimeSpan.Zero);
        Assert.False(schedule.IsUnbounded);
        Assert.Equal(S(19683), schedule.NextDelay(29));
        Assert.Null(schedule.NextDelay(30));
    }

    [Fact]
    public void The_constants_can_be_changed()
    {
        var schedule = new RedialSchedule(Fixed(0), reconnectAttempts: 2, reconnectInterval: S(1), backOffAttempts: 3,
            backOffBaseSeconds: 2, maxJitter: S(10));
        Assert.Equal([TimeSpan.Zero, S(1), S(1 + 1), S(2), S(4)], Delays(schedule, 5));
        Assert.Null(schedule.NextDelay(5));
    }

    [Fact]
    public void Without_a_first_loop_the_first_redial_waits_the_first_backoff()
    {
        var schedule = new RedialSchedule(Fixed(0), reconnectAttempts: 0);
        Assert.Equal(S(1), schedule.NextDelay(0));
        Assert.Equal(S(3), schedule.NextDelay(1));
        Assert.Null(schedule.NextDelay(10));
    }

    [Fact]
    public void The_start_delay_is_a_jitter_alone()
    {
        Assert.Equal(TimeSpan.Zero, new RedialSchedule(Fixed(0)).StartDelay());
        Assert.Equal(S(3), new RedialSchedule(Fixed(1)).StartDelay());
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_random_source_outside_0_to_1_is_refused(double r)
    {
        var schedule = new RedialSchedule(Fixed(r));
        Assert.Throws<InvalidOperationException>(() => schedule.NextDelay(1));
    }

    [Fact]
    public void A_negative_attempt_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RedialSchedule(Fixed(0)).NextDelay(-1));
    }
}
