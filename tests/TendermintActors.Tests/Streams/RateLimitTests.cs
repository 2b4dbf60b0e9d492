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
        Assert.False(limit.CatchUp(Ms(0))); // nothing passed
        limit.Bucket.Spend(6_000);
        Assert.False(limit.NeedsTimer);

        Assert.False(limit.CatchUp(Ms(5))); // half a tick: 500 bytes, no quiet period
        Assert.Equal(4_500, limit.Bucket.Tokens);
        Assert.True(limit.CatchUp(Ms(25))); // two ticks
        Assert.Equal(6_500, limit.Bucket.Tokens);
        Assert.True(limit.CatchUp(Ms(10_000))); // long idle: the bucket caps it
        Assert.Equal(10_000, limit.Bucket.Tokens);
        Assert.False(limit.CatchUp(Ms(9_000))); // the clock stepped back: nothing taken away
        Assert.Equal(10_000, limit.Bucket.Tokens);
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
