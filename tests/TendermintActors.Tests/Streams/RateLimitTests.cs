using TendermintActors.Streams.Internal;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// A stage's rate limit without a stage (<see cref="RateLimit"/>): what <see cref="RateLimit.CatchUp"/> credits when no
/// refill timer runs, and when the stage must start one.
/// </summary>
public sealed class RateLimitTests
{
    // 100 000 B/s with a 100 ms flush throttle: a 10 000-byte bucket, 1000 bytes per 10 ms tick.
    private static RateLimit Limit() => new(100_000, TimeSpan.FromMilliseconds(100));

    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void Catching_up_credits_the_time_since_the_last_credit_up_to_the_bucket()
    {
        var limit = Limit();
        Assert.Equal(10_000, limit.Bucket.Tokens);
        limit.CatchUp(Ms(0)); // nothing passed
        Assert.Equal(10_000, limit.Bucket.Tokens);
        limit.Bucket.Spend(6_000);
        Assert.False(limit.NeedsTimer);

        limit.CatchUp(Ms(5)); // half a tick: 500 bytes
        Assert.Equal(4_500, limit.Bucket.Tokens);
        limit.CatchUp(Ms(25)); // two ticks more
        Assert.Equal(6_500, limit.Bucket.Tokens);
        limit.CatchUp(Ms(10_000)); // long idle: the bucket caps it
        Assert.Equal(10_000, limit.Bucket.Tokens);
        limit.Bucket.Spend(1_000);
        limit.CatchUp(Ms(9_000)); // the clock stepped back: nothing credited, nothing taken away
        Assert.Equal(9_000, limit.Bucket.Tokens);
        limit.CatchUp(Ms(9_001)); // and the next credit counts from there
        Assert.Equal(9_100, limit.Bucket.Tokens);
    }

    [Fact]
    public void A_quiet_period_starts_once_a_tick_however_often_the_stage_spends_meanwhile()
    {
        // Writes 4 ms apart (steady gossip): every tick's worth of time still starts a quiet period, as the timer's
        // refills would, so that a vote behind a burst that spends the budget finds its channel quiet.
        var limit = Limit();
        var started = new List<double>();
        for (var t = 4.0; t <= 40; t += 4)
            if (limit.CatchUp(Ms(t)))
                started.Add(t);
        Assert.Equal([12.0, 24.0, 36.0], started);

        // A refill tick starts one too, and the next starts a tick after it.
        limit.Bucket.Spend(20_000);
        limit.Refill(Ms(41));
        Assert.False(limit.CatchUp(Ms(49)));
        Assert.True(limit.CatchUp(Ms(51)));
    }

    [Fact]
    public void A_spend_that_leaves_nothing_needs_the_timer_and_its_ticks_credit_from_the_last_catch_up()
    {
        var limit = Limit();
        limit.CatchUp(Ms(50));
        limit.Bucket.Spend(10_500);
        Assert.True(limit.NeedsTimer);

        Assert.False(limit.Refill(Ms(60))); // one tick: 1000 bytes, debt paid, not full: keep ticking
        Assert.Equal(500, limit.Bucket.Tokens);
        Assert.False(limit.NeedsTimer);
        Assert.False(limit.Refill(Ms(160))); // capped at the bucket
        Assert.Equal(10_000, limit.Bucket.Tokens);
        Assert.True(limit.Refill(Ms(170))); // a tick that finds it full: the timer may stop
    }
}
