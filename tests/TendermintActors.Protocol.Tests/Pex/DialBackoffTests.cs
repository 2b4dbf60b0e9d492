using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using static TendermintActors.Protocol.Pex.DialBackoff;

namespace TendermintActors.Protocol.Tests.Pex;

public sealed class DialBackoffTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly NetAddress Addr = NetAddress.Parse(new string('a', 40) + "@10.0.0.1:26656");

    [Fact]
    public void A_new_address_is_dialled_at_once()
    {
        Assert.IsType<Decision.Dial>(new DialBackoff(() => 0).Check(Addr, persistent: false, T0));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(5, 32)]
    [InlineData(16, 65536)]
    public void After_n_failures_the_next_dial_waits_2_to_the_n_seconds_plus_up_to_a_second(int failures, int seconds)
    {
        foreach (var (random, jitter) in new[] { (0.0, TimeSpan.Zero), (1.0, TimeSpan.FromSeconds(1)) })
        {
            var backoff = new DialBackoff(() => random);
            for (var i = 0; i < failures; i++) backoff.RecordFailure(Addr, T0);
            var wait = TimeSpan.FromSeconds(seconds) + jitter;

            var early = Assert.IsType<Decision.TooEarly>(backoff.Check(Addr, persistent: false, T0 + wait - TimeSpan.FromMilliseconds(1)));
            Assert.Equal(T0 + wait, early.NotBefore);
            Assert.Equal(failures, early.Attempts);
            Assert.IsType<Decision.Dial>(backoff.Check(Addr, persistent: false, T0 + wait));
        }
    }

    [Fact]
    public void After_more_than_16_failures_a_non_persistent_address_is_given_up_and_a_persistent_one_is_not()
    {
        var backoff = new DialBackoff(() => 0);
        for (var i = 0; i < 16; i++) backoff.RecordFailure(Addr, T0);
        Assert.IsNotType<Decision.GiveUp>(backoff.Check(Addr, persistent: false, T0));

        backoff.RecordFailure(Addr, T0);

        Assert.Equal(17, Assert.IsType<Decision.GiveUp>(backoff.Check(Addr, persistent: false, T0)).Attempts);
        Assert.IsType<Decision.TooEarly>(backoff.Check(Addr, persistent: true, T0));
    }

    [Fact]
    public void The_max_dial_period_caps_the_wait_of_persistent_peers_only()
    {
        var backoff = new DialBackoff(() => 0, maxDialPeriod: TimeSpan.FromSeconds(10));
        for (var i = 0; i < 8; i++) backoff.RecordFailure(Addr, T0); // 256 s uncapped

        Assert.IsType<Decision.Dial>(backoff.Check(Addr, persistent: true, T0 + TimeSpan.FromSeconds(10)));
        Assert.IsType<Decision.TooEarly>(backoff.Check(Addr, persistent: false, T0 + TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Forgetting_an_address_clears_its_history_and_the_history_follows_the_host_and_port()
    {
        var backoff = new DialBackoff(() => 0);
        backoff.RecordFailure(Addr, T0);
        var sameSpotNewId = NetAddress.Parse(new string('b', 40) + "@10.0.0.1:26656");

        Assert.Equal(1, backoff.Attempts(sameSpotNewId)); // Go keys by dial string (ip:port)
        backoff.Forget(Addr);
        Assert.Equal(0, backoff.Attempts(Addr));
        Assert.IsType<Decision.Dial>(backoff.Check(Addr, persistent: false, T0));
    }
}
