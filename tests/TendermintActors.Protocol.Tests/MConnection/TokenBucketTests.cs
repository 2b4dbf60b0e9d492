using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Protocol.Tests.MConnection;

public class TokenBucketTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);

    [Fact]
    public void A_new_bucket_holds_one_burst_period_worth_of_bytes()
    {
        var bucket = new TokenBucket(5_120_000, TimeSpan.FromMilliseconds(100));
        Assert.Equal(512_000, bucket.Burst);
        Assert.Equal(512_000, bucket.Tokens);
        Assert.True(bucket.IsFull);
        Assert.True(bucket.HasBudget);
    }

    [Fact]
    public void Without_a_rate_the_bucket_is_never_spent()
    {
        var bucket = new TokenBucket(0, TimeSpan.FromMilliseconds(100));
        bucket.Spend(1_000_000_000);
        Assert.False(bucket.Limited);
        Assert.True(bucket.HasBudget);
        Assert.Equal(0, bucket.Tokens);
    }

    [Fact]
    public void A_spent_bucket_has_budget_again_after_the_refill_that_brings_it_above_zero()
    {
        var bucket = new TokenBucket(100_000, TimeSpan.FromMilliseconds(100)); // 10,000 burst, 1,000 per tick
        bucket.Spend(10_500); // one packet over budget
        Assert.False(bucket.HasBudget);
        bucket.Refill(Tick);
        Assert.Equal(500, bucket.Tokens);
        Assert.True(bucket.HasBudget);
    }

    [Fact]
    public void Refills_never_go_beyond_the_burst()
    {
        var bucket = new TokenBucket(100_000, TimeSpan.FromMilliseconds(100));
        bucket.Spend(3_000);
        bucket.Refill(TimeSpan.FromSeconds(10));
        Assert.Equal(bucket.Burst, bucket.Tokens);
    }

    [Fact]
    public void A_late_refill_counts_all_the_time_since_the_last_one()
    {
        var bucket = new TokenBucket(100_000, TimeSpan.FromMilliseconds(100));
        bucket.Spend(10_000);
        bucket.Refill(TimeSpan.FromMilliseconds(35));
        Assert.Equal(3_500, bucket.Tokens);
    }

    [Fact]
    public void A_clock_stepping_back_takes_nothing_away()
    {
        var bucket = new TokenBucket(100_000, TimeSpan.FromMilliseconds(100));
        bucket.Spend(5_000);
        bucket.Refill(TimeSpan.FromMilliseconds(-50));
        Assert.Equal(5_000, bucket.Tokens);
    }

    [Fact]
    public void Rates_below_one_byte_per_tick_hold_by_carrying_fractions()
    {
        var bucket = new TokenBucket(50, Tick); // 0.5 B per tick; a burst of at least 1
        bucket.Spend(bucket.Tokens);
        for (var i = 0; i < 1_000; i++) // 10 s
            bucket.Refill(Tick);
        Assert.Equal(1, bucket.Burst);
        bucket.Spend(1);
        // Spent down to zero, it earns its byte back within two ticks (0.5 B each), not never.
        bucket.Refill(Tick);
        bucket.Refill(Tick);
        Assert.Equal(1, bucket.Tokens);
    }

    [Fact]
    public void Over_many_ticks_a_saturating_sender_moves_the_rate_and_no_more()
    {
        // A sender that spends whatever the bucket allows, in 1034-byte packets, for 30 ticks after its burst.
        var bucket = new TokenBucket(5_120_000, TimeSpan.FromMilliseconds(100));
        long sent = 0;
        for (var tick = 0; tick <= 30; tick++)
        {
            while (bucket.HasBudget)
            {
                bucket.Spend(1034);
                sent += 1034;
            }
            bucket.Refill(Tick);
        }
        // The burst, plus 30 ticks of 51,200 bytes, plus at most one packet over.
        Assert.InRange(sent, 512_000 + 30 * 51_200, 512_000 + 30 * 51_200 + 1034);
    }

    [Fact]
    public void Budget_is_at_least_one_byte_for_any_rate()
    {
        Assert.Equal(0, TokenBucket.Budget(0, Tick));
        Assert.Equal(1, TokenBucket.Budget(1, Tick));
        Assert.Equal(51_200, TokenBucket.Budget(5_120_000, Tick));
    }

    [Fact]
    public void A_sender_paces_itself_2_percent_under_its_send_rate_and_no_limit_stays_none()
    {
        Assert.Equal(5_017_600, TokenBucket.PacedSendRate(5_120_000));
        Assert.Equal(0, TokenBucket.PacedSendRate(0));
        Assert.Equal(1, TokenBucket.PacedSendRate(1)); // never down to no limit
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenBucket.PacedSendRate(-1));
    }

    [Fact]
    public void A_receiver_reads_up_to_2_percent_over_its_recv_rate_and_no_limit_stays_none()
    {
        Assert.Equal(5_222_400, TokenBucket.ReceiveAllowance(5_120_000));
        Assert.Equal(0, TokenBucket.ReceiveAllowance(0));
        Assert.Equal(1, TokenBucket.ReceiveAllowance(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenBucket.ReceiveAllowance(-1));
    }

    [Fact]
    public void Negative_rates_and_empty_periods_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(-1, Tick));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(1, TimeSpan.Zero));
    }
}
