using TendermintActors.Switching;

namespace TendermintActors.Tests.Switching;

/// <summary>When the switch collects the young generations of a process that allocates little: the policy alone.</summary>
public sealed class IdleCollectionTests
{
    private const long MiB = 1024 * 1024;
    private static readonly Switch.IdleCollection Settings = new() { MinAllocatedBytes = MiB };

    [Fact]
    public void The_first_check_only_starts_the_count()
    {
        var policy = new IdleCollectionPolicy(Settings);

        Assert.False(policy.Check(100 * MiB, collections: 7));
        Assert.False(policy.Check(101 * MiB - 1, collections: 7));
        Assert.True(policy.Check(101 * MiB, collections: 7));
    }

    [Fact]
    public void A_collection_since_the_last_check_starts_the_count_again_from_that_check()
    {
        var policy = new IdleCollectionPolicy(Settings);
        policy.Check(0, collections: 1);

        // The runtime collected on its own: what came before does not count, whatever its size.
        Assert.False(policy.Check(50 * MiB, collections: 2));
        Assert.False(policy.Check(51 * MiB - 1, collections: 2));
        Assert.True(policy.Check(51 * MiB, collections: 2));
        Assert.Equal(MiB, policy.AllocatedSinceCollection(51 * MiB));
    }

    [Fact]
    public void A_busy_process_whose_own_collections_come_between_checks_is_never_collected()
    {
        var policy = new IdleCollectionPolicy(Settings);
        policy.Check(0, collections: 0);

        for (var check = 1; check <= 100; check++)
            Assert.False(policy.Check(check * 20 * MiB, collections: check));
    }

    [Fact]
    public void A_process_that_allocates_the_minimum_within_an_interval_is_busy_and_left_to_the_runtime()
    {
        var policy = new IdleCollectionPolicy(Settings);
        policy.Check(0, collections: 0);

        // The runtime's budget is far from full, but each interval allocates a MiB or more: no collection of ours.
        for (var check = 1; check <= 10; check++)
            Assert.False(policy.Check(check * 2 * MiB, collections: 0));

        // A quiet interval after it: what the busy ones allocated is collected then.
        Assert.True(policy.Check(20 * MiB + 1000, collections: 0));
    }

    [Fact]
    public void The_interval_is_measured_from_the_last_check_not_from_the_last_collection()
    {
        var policy = new IdleCollectionPolicy(Settings);
        policy.Check(0, collections: 0);
        Assert.False(policy.Check(MiB - 1, collections: 0)); // quiet, but not yet the minimum
        Assert.True(policy.Check(MiB, collections: 0)); // one byte this interval: quiet, and the minimum reached
    }

    [Fact]
    public void After_its_collection_the_count_starts_from_what_the_process_had_allocated_then()
    {
        var policy = new IdleCollectionPolicy(Settings);
        policy.Check(0, collections: 3);
        Assert.False(policy.Check(MiB / 2, collections: 3));
        Assert.True(policy.Check(MiB + 100, collections: 3));

        policy.Collected(MiB + 200, collections: 4);

        Assert.False(policy.Check(MiB + 200 + MiB / 2, collections: 4));
        Assert.False(policy.Check(2 * MiB + 199, collections: 4));
        Assert.True(policy.Check(2 * MiB + 200, collections: 4));
    }

    [Fact]
    public void Off_never_collects()
    {
        var policy = new IdleCollectionPolicy(Settings with { MinAllocatedBytes = 0 });
        policy.Check(0, collections: 0);

        Assert.False(policy.Check(long.MaxValue / 2, collections: 0));
    }

    [Theory]
    [InlineData(-1, 10, "MinAllocatedBytes")]
    [InlineData(0, 0, "CheckInterval")]
    [InlineData(0, -1, "CheckInterval")]
    [InlineData(0, 7200, "CheckInterval")]
    public void Settings_out_of_range_are_refused_by_name(long minAllocated, int checkSeconds, string name)
    {
        var settings = new Switch.IdleCollection { MinAllocatedBytes = minAllocated, CheckInterval = TimeSpan.FromSeconds(checkSeconds) };

        Assert.Contains(name, Assert.Throws<ArgumentException>(settings.Validate).Message);
    }
}
