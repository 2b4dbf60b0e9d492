using TendermintActors.Streams.Internal;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// <see cref="StatusTicks"/> against the rule it replaces: a timer that fires every interval from the first byte,
/// samples the rate and decays a recently-sent count by 0.8, and stops at the tick that finds nothing left to decay.
/// Both are fed the same random counts and reads; every read must agree.
/// </summary>
public sealed class StatusTicksTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>The timer's rule, its ticks fired by the test at their times.</summary>
    private sealed class TimerModel
    {
        public long Bytes, Rate, RecentlySent;
        private long _atSample;
        public TimeSpan? NextTick; // null: the timer is not running

        public void FireTicksBefore(TimeSpan t)
        {
            while (NextTick is { } tick && tick <= t)
            {
                Rate = (long)((Bytes - _atSample) / Interval.TotalSeconds);
                _atSample = Bytes;
                RecentlySent = (long)(RecentlySent * 0.8);
                NextTick = Rate == 0 && RecentlySent == 0 ? null : tick + Interval;
            }
        }

        public void Count(TimeSpan t, long bytes)
        {
            FireTicksBefore(t);
            NextTick ??= t + Interval;
            Bytes += bytes;
            RecentlySent += bytes;
        }
    }

    /// <summary>The stage's use of <see cref="StatusTicks"/>: the ticks due taken before each count or read.</summary>
    private sealed class Lazy
    {
        public StatusTicks Ticks = new(Interval);
        public long RecentlySent;

        public void TakeTicks(TimeSpan now)
        {
            while (Ticks.TickDue(now))
            {
                RecentlySent = (long)(RecentlySent * 0.8);
                if (Ticks.Rate == 0 && RecentlySent == 0)
                {
                    Ticks.Stop();
                    return;
                }
            }
        }

        public void Count(TimeSpan now, long bytes)
        {
            TakeTicks(now);
            Ticks.Count(now, bytes);
            RecentlySent += bytes;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Every_read_equals_what_a_timer_at_each_tick_would_have_left(int seed)
    {
        var random = new Random(seed);
        var model = new TimerModel();
        var lazy = new Lazy();
        var now = TimeSpan.Zero;
        var ticksSeen = 0;
        for (var step = 0; step < 5000; step++)
        {
            // Bursts of traffic, pauses of a few ticks, and long silences (everything decayed), in random mixes.
            var gap = random.Next(10) switch
            {
                < 6 => TimeSpan.FromMilliseconds(random.Next(1, 500)),
                < 9 => TimeSpan.FromMilliseconds(random.Next(500, 10_000)),
                _ => TimeSpan.FromSeconds(random.Next(10, 3600)),
            };
            now += gap + TimeSpan.FromTicks(random.Next(1, 1000)); // never exactly on a tick
            if (random.Next(3) == 0)
            {
                model.FireTicksBefore(now);
                lazy.TakeTicks(now);
                Assert.Equal((model.Bytes, model.Rate, model.RecentlySent), (lazy.Ticks.Bytes, lazy.Ticks.Rate, lazy.RecentlySent));
                Assert.Equal(model.NextTick is not null, lazy.Ticks.Running);
                if (model.Rate != 0) ticksSeen++;
            }
            else
            {
                var bytes = random.Next(1, 100_000);
                model.Count(now, bytes);
                lazy.Count(now, bytes);
            }
        }
        Assert.True(ticksSeen > 100, $"only {ticksSeen} reads saw a rate: the mix does not exercise the ticks");
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void The_receive_rule_stops_at_the_first_tick_that_finds_nothing_read(int seed)
    {
        // The receive stage decays nothing but its rate: its ticks stop at the first one whose interval read nothing.
        var random = new Random(seed);
        var ticks = new StatusTicks(Interval);
        long bytes = 0, atSample = 0, rate = 0;
        TimeSpan? next = null; // the timer's next tick; null: not running
        var now = TimeSpan.Zero;
        for (var step = 0; step < 3000; step++)
        {
            now += TimeSpan.FromMilliseconds(random.Next(1, random.Next(4) == 0 ? 20_000 : 1500)) + TimeSpan.FromTicks(random.Next(1, 1000));
            while (next is { } tick && tick <= now) // the timer's rule
            {
                rate = (long)((bytes - atSample) / Interval.TotalSeconds);
                atSample = bytes;
                next = rate == 0 ? null : tick + Interval;
            }
            while (ticks.TickDue(now)) // the stage's
                if (ticks.Rate == 0)
                {
                    ticks.Stop();
                    break;
                }
            Assert.Equal((bytes, rate, next is not null), (ticks.Bytes, ticks.Rate, ticks.Running));
            if (random.Next(2) == 0)
            {
                var read = random.Next(1, 50_000);
                next ??= now + Interval;
                bytes += read;
                ticks.Count(now, read);
            }
        }
    }

    [Fact]
    public void The_rate_is_sampled_over_the_interval_each_tick_ends()
    {
        var ticks = new StatusTicks(Interval);
        ticks.Count(TimeSpan.FromSeconds(10), 1000);
        ticks.Count(TimeSpan.FromSeconds(11), 3000);

        Assert.False(ticks.TickDue(TimeSpan.FromSeconds(11.9)));
        Assert.Equal(0, ticks.Rate);
        Assert.True(ticks.TickDue(TimeSpan.FromSeconds(12)));
        Assert.Equal(2000, ticks.Rate); // 4000 bytes over 2 s
        Assert.True(ticks.TickDue(TimeSpan.FromSeconds(15)));
        Assert.Equal(0, ticks.Rate);
        Assert.False(ticks.TickDue(TimeSpan.FromSeconds(15)));
        Assert.Equal(4000, ticks.Bytes);
    }

    [Fact]
    public void After_a_stop_the_next_byte_starts_the_ticks_an_interval_later()
    {
        var ticks = new StatusTicks(Interval);
        ticks.Count(TimeSpan.Zero, 100);
        Assert.True(ticks.TickDue(TimeSpan.FromSeconds(2)));
        Assert.True(ticks.TickDue(TimeSpan.FromSeconds(4)));
        ticks.Stop();

        Assert.False(ticks.TickDue(TimeSpan.FromHours(1)));
        ticks.Count(TimeSpan.FromHours(1), 600);
        Assert.False(ticks.TickDue(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1.9)));
        Assert.True(ticks.TickDue(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(2)));
        Assert.Equal(300, ticks.Rate); // only the bytes since the start again
    }

    [Fact]
    public void A_clock_that_steps_back_counts_ticks_from_then_instead_of_waiting_for_it_to_return()
    {
        var ticks = new StatusTicks(Interval);
        ticks.Count(TimeSpan.FromHours(2), 100);

        // An hour back: the next tick is an interval from then, not an hour and an interval.
        Assert.False(ticks.TickDue(TimeSpan.FromHours(1)));
        Assert.True(ticks.TickDue(TimeSpan.FromHours(1) + Interval));
        Assert.Equal(50, ticks.Rate);
    }
}
