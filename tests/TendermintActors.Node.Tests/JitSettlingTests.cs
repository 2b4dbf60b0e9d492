using TendermintActors.Node.Bench;
using Xunit;

namespace TendermintActors.Node.Tests;

public sealed class JitSettlingTests
{
    private static TimeSpan S(long seconds) => TimeSpan.FromSeconds(seconds);

    private static TimeSpan Ms(long milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    [Fact]
    public void A_quiet_JIT_does_not_end_the_warm_up_before_the_minimum()
    {
        var settling = new JitSettling(S(3), S(30));

        for (var tenths = 0; tenths < 30; tenths++)
            Assert.False(settling.IsSettled(Ms(tenths * 100), Ms(500)), $"settled at {tenths / 10.0} s");
        Assert.True(settling.IsSettled(S(3), Ms(500)));
        Assert.False(settling.GaveUp);
    }

    [Fact]
    public void A_busy_JIT_keeps_the_warm_up_going_until_a_whole_window_has_been_quiet()
    {
        var settling = new JitSettling(S(3), S(30));
        // A sample every 100 ms; 20 ms compiled in each up to 4.2 s, as the tier-up wave does, then none.
        var compiled = 0;
        for (var tenths = 0; tenths <= 42; tenths++)
        {
            compiled += 20;
            Assert.False(settling.IsSettled(Ms(tenths * 100), Ms(compiled)), $"settled at {tenths / 10.0} s while compiling");
        }
        // Quiet from here on, but until 5.2 s the window reaches back into the busy stretch.
        for (var tenths = 43; tenths <= 51; tenths++)
            Assert.False(settling.IsSettled(Ms(tenths * 100), Ms(compiled)), $"settled at {tenths / 10.0} s, under a second after the last compile");
        Assert.True(settling.IsSettled(Ms(5200), Ms(compiled)));
        Assert.False(settling.GaveUp);
        Assert.Equal("the JIT had settled", settling.Outcome);
    }

    [Fact]
    public void Compiling_within_the_budget_counts_as_quiet_and_beyond_it_does_not()
    {
        var within = new JitSettling(S(0), S(30));
        Assert.False(within.IsSettled(S(0), Ms(100)));
        Assert.True(within.IsSettled(S(1), Ms(100) + JitSettling.QuietBudget - Ms(1)));

        var beyond = new JitSettling(S(0), S(30));
        Assert.False(beyond.IsSettled(S(0), Ms(100)));
        Assert.False(beyond.IsSettled(S(1), Ms(100) + JitSettling.QuietBudget));
    }

    [Fact]
    public void Sparse_samples_from_a_slow_link_are_judged_over_the_time_between_them()
    {
        // A rate-limited warm-up's batches take seconds each: one sample per batch.
        var settling = new JitSettling(S(3), S(30));

        Assert.False(settling.IsSettled(Ms(1600), Ms(900)));
        Assert.False(settling.IsSettled(Ms(3200), Ms(1400))); // 500 ms compiled since the last batch
        Assert.True(settling.IsSettled(Ms(4800), Ms(1405)));
    }

    [Fact]
    public void A_JIT_that_never_settles_ends_the_warm_up_at_the_maximum_and_says_so()
    {
        var settling = new JitSettling(S(3), S(30));
        // 50 ms compiled in every 500 ms, for ever.
        for (var halves = 0; halves < 60; halves++)
            Assert.False(settling.IsSettled(Ms(halves * 500), Ms(halves * 50)), $"settled at {halves / 2.0} s");

        Assert.True(settling.IsSettled(S(30), Ms(3000)));
        Assert.True(settling.GaveUp);
        Assert.Equal("the JIT was still compiling", settling.Outcome);
    }

    [Fact]
    public void A_longer_stretch_between_samples_is_allowed_as_much_compiling_in_proportion()
    {
        // 15 ms over 2 s is under 1 %; over 1 s it would not be.
        var sparse = new JitSettling(S(0), S(30));
        Assert.False(sparse.IsSettled(S(2), Ms(100)));
        Assert.True(sparse.IsSettled(S(4), Ms(115)));

        var dense = new JitSettling(S(0), S(30));
        Assert.False(dense.IsSettled(S(3), Ms(100)));
        Assert.False(dense.IsSettled(S(4), Ms(115)));
    }

    [Fact]
    public void The_maximum_never_ends_the_warm_up_before_the_minimum()
    {
        var settling = new JitSettling(S(60), S(30));

        Assert.Equal(S(60), settling.Maximum);
        Assert.False(settling.IsSettled(S(0), Ms(0)));
        Assert.False(settling.IsSettled(S(31), Ms(3000))); // busy, past the asked-for maximum, before the minimum
        Assert.True(settling.IsSettled(S(60), Ms(6000)));
        Assert.True(settling.GaveUp);
    }

    [Fact]
    public void A_single_batch_that_takes_until_the_maximum_is_not_taken_for_a_busy_JIT()
    {
        var settling = new JitSettling(S(3), S(30));

        Assert.True(settling.IsSettled(S(31), Ms(100)));

        Assert.True(settling.GaveUp);
        Assert.False(settling.Judged);
        Assert.Equal("too few samples to judge the JIT", settling.Outcome);
    }
}
