using TendermintActors.Protocol.Switch;

namespace TendermintActors.Protocol.Tests.Switch;

public class BufferBudgetTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(100);

    // 1000 bytes in all, low water 750.
    private static BufferBudget<string> Budget() => new(1000, Timeout);

    [Fact]
    public void Under_the_budget_nobody_is_paused()
    {
        var budget = Budget();
        Assert.True(budget.Report("a", 400, T0).IsNone);
        Assert.True(budget.Report("b", 600, T0).IsNone); // exactly at the bound
        Assert.Equal(1000, budget.TotalBytes);
        Assert.Equal(0, budget.PausedCount);
    }

    [Fact]
    public void Over_the_budget_the_largest_are_paused_until_the_others_fit_under_the_low_water_mark()
    {
        var budget = Budget();
        budget.Report("small", 100, T0);
        budget.Report("big", 500, T0);
        budget.Report("mid", 300, T0);
        var decision = budget.Report("small2", 200, T0); // 1100 > 1000
        // Pausing "big" leaves 600 flowing <= 750: enough.
        Assert.Equal(["big"], decision.Pause);
        Assert.Empty(decision.Resume);
        Assert.True(budget.IsPaused("big"));
        Assert.False(budget.IsPaused("mid"));
        Assert.Equal(T0 + Timeout, budget.NextDeadline);
    }

    [Fact]
    public void Several_are_paused_when_the_largest_alone_is_not_enough()
    {
        var budget = Budget();
        foreach (var key in new[] { "a", "b", "c", "d", "e" })
            budget.Report(key, 200, T0);
        var decision = budget.Report("f", 200, T0); // 1200: pause until flowing <= 750, i.e. three of 200
        Assert.Equal(3, decision.Pause.Count);
        Assert.Equal(3, budget.PausedCount);
    }

    [Fact]
    public void A_paused_connection_is_not_paused_twice_and_growth_of_others_pauses_more()
    {
        var budget = Budget();
        budget.Report("big", 700, T0);
        Assert.Equal(["big"], budget.Report("b", 400, T0).Pause);
        Assert.True(budget.Report("big", 700, T0).IsNone); // a repeated report changes nothing
        var decision = budget.Report("b", 800, T0); // 1500, flowing 800 > 750
        Assert.Equal(["b"], decision.Pause);
    }

    [Fact]
    public void Paused_connections_resume_once_the_total_is_at_the_low_water_mark()
    {
        var budget = Budget();
        budget.Report("big", 600, T0);
        budget.Report("other", 500, T0);
        Assert.True(budget.IsPaused("big"));
        Assert.True(budget.Report("other", 200, T0).IsNone); // 800: still above low water
        var decision = budget.Report("other", 150, T0);      // 750
        Assert.Equal(["big"], decision.Resume);
        Assert.Equal(0, budget.PausedCount);
        Assert.Null(budget.NextDeadline);
    }

    [Fact]
    public void Paused_connections_past_the_deadline_are_dropped_and_their_bytes_freed()
    {
        var budget = Budget();
        budget.Report("big", 600, T0);
        budget.Report("other", 500, T0 + TimeSpan.FromSeconds(1));
        Assert.True(budget.Expire(T0 + Timeout).IsNone); // paused at T0 + 1 s: not yet
        var decision = budget.Expire(T0 + Timeout + TimeSpan.FromSeconds(1));
        Assert.Equal(["big"], decision.Drop);
        Assert.Equal(500, budget.TotalBytes);
        Assert.Equal(0, budget.UsageOf("big"));
        Assert.True(budget.Remove("big", T0).IsNone); // the peer's later removal is harmless
        Assert.Equal(500, budget.TotalBytes);
    }

    [Fact]
    public void Removing_a_connection_frees_its_bytes_and_lets_the_paused_resume()
    {
        var budget = Budget();
        budget.Report("big", 600, T0);
        budget.Report("other", 500, T0);
        var decision = budget.Remove("other", T0);
        Assert.Equal(["big"], decision.Resume);
        Assert.Equal(600, budget.TotalBytes);
    }

    [Fact]
    public void Reservations_count_towards_the_total_but_are_never_paused()
    {
        var budget = Budget();
        budget.Reserve("handshake-1", 500, T0);
        budget.Reserve("handshake-2", 400, T0);
        var decision = budget.Report("peer", 200, T0); // 1100: only "peer" can be paused
        Assert.Equal(["peer"], decision.Pause);
        Assert.False(budget.IsPaused("handshake-1"));
        Assert.Equal(["peer"], budget.Reserve("handshake-2", 0, T0).Resume); // 700 <= 750
        Assert.Equal(700, budget.TotalBytes);
    }

    [Fact]
    public void Reports_to_zero_forget_the_connection()
    {
        var budget = Budget();
        budget.Report("a", 300, T0);
        budget.Report("a", 0, T0);
        Assert.Equal(0, budget.TotalBytes);
        Assert.Equal(0, budget.UsageOf("a"));
    }

    [Fact]
    public void Rejects_a_budget_or_timeout_that_is_not_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BufferBudget<string>(0, Timeout));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BufferBudget<string>(1000, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => Budget().Report("a", -1, T0));
    }
}
