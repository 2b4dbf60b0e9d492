using TendermintActors.Switching;

namespace TendermintActors.Tests.Switching;

/// <summary>When the switch collects after a burst of new peers: the policy alone, on explicit times.</summary>
public sealed class PeerBurstCollectionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);
    private const long MiB = 1024 * 1024;

    private static readonly Switch.PeerBurstCollection Settings = new()
    {
        MinPeers = 3, MinAllocatedBytes = 10 * MiB, QuietPeriod = TimeSpan.FromSeconds(2), MinInterval = TimeSpan.FromMinutes(5),
    };

    private static PeerBurstCollectionPolicy AfterPeers(int peers, Switch.PeerBurstCollection? settings = null)
    {
        var policy = new PeerBurstCollectionPolicy(settings ?? Settings);
        for (var i = 0; i < peers; i++)
            policy.PeerAdmitted(T0 + TimeSpan.FromMilliseconds(100 * i));
        return policy;
    }

    private static DateTimeOffset LastPeer(int peers) => T0 + TimeSpan.FromMilliseconds(100 * (peers - 1));

    [Fact]
    public void Fewer_peers_than_a_burst_never_collect_and_ask_nothing_until_the_next_peer()
    {
        var policy = AfterPeers(2);

        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, null), policy.Check(T0 + TimeSpan.FromHours(1), 100 * MiB));
    }

    [Fact]
    public void A_burst_collects_once_no_peer_has_come_for_the_quiet_period()
    {
        var policy = AfterPeers(3);
        var settled = LastPeer(3) + Settings.QuietPeriod;

        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, settled), policy.Check(LastPeer(3), 100 * MiB));
        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, settled), policy.Check(settled - TimeSpan.FromTicks(1), 100 * MiB));
        Assert.True(policy.Check(settled, 100 * MiB).Collect);
    }

    [Fact]
    public void A_new_peer_during_the_quiet_period_starts_it_again()
    {
        var policy = AfterPeers(3);
        var late = LastPeer(3) + TimeSpan.FromSeconds(1);
        policy.PeerAdmitted(late);

        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, late + Settings.QuietPeriod),
            policy.Check(LastPeer(3) + Settings.QuietPeriod, 100 * MiB));
        Assert.True(policy.Check(late + Settings.QuietPeriod, 100 * MiB).Collect);
    }

    [Fact]
    public void Too_little_allocated_since_the_last_collection_is_not_worth_one()
    {
        var policy = AfterPeers(3);
        var settled = LastPeer(3) + Settings.QuietPeriod;

        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, null), policy.Check(settled, 10 * MiB - 1));
        // The peers still count: once enough is allocated, the next peer's check collects.
        policy.PeerAdmitted(settled);
        Assert.True(policy.Check(settled + Settings.QuietPeriod, 10 * MiB).Collect);
    }

    [Fact]
    public void After_a_collection_the_next_burst_waits_for_the_interval_and_counts_its_own_peers_and_bytes()
    {
        var policy = AfterPeers(3);
        var first = LastPeer(3) + Settings.QuietPeriod;
        Assert.True(policy.Check(first, 100 * MiB).Collect);
        policy.Collected(first, 101 * MiB);

        // A burst right after: settled, but within the interval of the last collection.
        var next = first + TimeSpan.FromSeconds(10);
        for (var i = 0; i < 3; i++)
            policy.PeerAdmitted(next);
        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, first + Settings.MinInterval),
            policy.Check(next + Settings.QuietPeriod, 200 * MiB));

        // At the end of the interval: the bytes count from the last collection (101 MiB), not from the start.
        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, null), policy.Check(first + Settings.MinInterval, 110 * MiB));
        Assert.True(policy.Check(first + Settings.MinInterval, 111 * MiB).Collect);
    }

    [Fact]
    public void Zero_peers_is_off()
    {
        var policy = AfterPeers(1000, Settings with { MinPeers = 0 });
        policy.Started(T0);

        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, null), policy.Check(T0 + TimeSpan.FromDays(1), long.MaxValue));
    }

    [Fact]
    public void The_start_is_collected_once_settled_whatever_it_allocated_and_only_once()
    {
        var policy = new PeerBurstCollectionPolicy(Settings);
        policy.Started(T0);

        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, T0 + Settings.QuietPeriod), policy.Check(T0, 0));
        Assert.True(policy.AfterStart);
        // Below min-allocated: the start's garbage is handed back all the same.
        Assert.True(policy.Check(T0 + Settings.QuietPeriod, 1).Collect);
        policy.Collected(T0 + Settings.QuietPeriod, 1);

        Assert.False(policy.AfterStart);
        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, null), policy.Check(T0 + TimeSpan.FromDays(1), 100 * MiB));
    }

    [Fact]
    public void The_starts_collection_does_not_hold_the_first_burst_back_for_the_interval()
    {
        var policy = new PeerBurstCollectionPolicy(Settings);
        policy.Started(T0);
        var started = T0 + Settings.QuietPeriod;
        Assert.True(policy.Check(started, 5 * MiB).Collect);
        policy.Collected(started, 5 * MiB);

        var burst = started + TimeSpan.FromSeconds(10);
        for (var i = 0; i < 3; i++)
            policy.PeerAdmitted(burst);

        // Its bytes count from the start's collection (5 MiB), but the interval does not.
        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, null), policy.Check(burst + Settings.QuietPeriod, 15 * MiB - 1));
        Assert.True(policy.Check(burst + Settings.QuietPeriod, 15 * MiB).Collect);
    }

    [Fact]
    public void Peers_right_after_the_start_put_its_collection_off_and_share_it()
    {
        var policy = new PeerBurstCollectionPolicy(Settings);
        policy.Started(T0);
        var peer = T0 + TimeSpan.FromSeconds(1);
        policy.PeerAdmitted(peer);

        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, peer + Settings.QuietPeriod), policy.Check(T0 + Settings.QuietPeriod, 0));
        Assert.True(policy.Check(peer + Settings.QuietPeriod, 0).Collect);
        policy.Collected(peer + Settings.QuietPeriod, 0);

        // The peer was counted in that collection: two more are not a burst.
        policy.PeerAdmitted(peer + TimeSpan.FromHours(1));
        policy.PeerAdmitted(peer + TimeSpan.FromHours(1));
        Assert.Equal(new PeerBurstCollectionPolicy.Decision(false, null), policy.Check(peer + TimeSpan.FromHours(2), 100 * MiB));
    }

    [Theory]
    [InlineData(-1, 0, 1000, 1000, "MinPeers")]
    [InlineData(1, -1, 1000, 1000, "MinAllocatedBytes")]
    [InlineData(1, 0, 0, 1000, "QuietPeriod")]
    [InlineData(1, 0, 1000, 0, "MinInterval")]
    public void Settings_out_of_range_name_the_setting(int peers, long bytes, int quietMs, int intervalMs, string name)
    {
        var settings = new Switch.PeerBurstCollection
        {
            MinPeers = peers, MinAllocatedBytes = bytes, QuietPeriod = TimeSpan.FromMilliseconds(quietMs),
            MinInterval = TimeSpan.FromMilliseconds(intervalMs),
        };

        Assert.StartsWith(name, Assert.Throws<ArgumentException>(settings.Validate).Message);
    }
}
