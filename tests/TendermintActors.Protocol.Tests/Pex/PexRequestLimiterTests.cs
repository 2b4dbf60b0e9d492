using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using static TendermintActors.Protocol.Pex.PexRequestLimiter;

namespace TendermintActors.Protocol.Tests.Pex;

public sealed class PexRequestLimiterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly NodeId Peer = NodeId.Parse(new string('1', 40));
    private static readonly NodeId Other = NodeId.Parse(new string('2', 40));
    private static readonly TimeSpan Interval = PexConstants.MinReceiveRequestInterval(TimeSpan.FromSeconds(30));

    [Fact]
    public void The_interval_is_a_third_of_the_ensure_peers_period()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), Interval);
    }

    [Fact]
    public void Go_s_rule_the_first_two_pass_then_each_must_wait_the_interval_after_the_last()
    {
        var limiter = new PexRequestLimiter(Interval, earlyRequestsTolerated: 0);

        Assert.Equal(Verdict.Accept, limiter.OnRequest(Peer, T0));
        Assert.Equal(Verdict.Accept, limiter.OnRequest(Peer, T0)); // the second, however soon; it starts the clock
        Assert.Equal(T0 + Interval, limiter.NextAllowed(Peer));
        Assert.Equal(Verdict.Accept, limiter.OnRequest(Peer, T0 + Interval));
        Assert.Equal(Verdict.TooSoon, limiter.OnRequest(Peer, T0 + Interval + Interval - TimeSpan.FromMilliseconds(1)));
    }

    [Fact]
    public void One_early_request_is_forgiven_by_default_and_restarts_the_clock_the_next_is_not()
    {
        var limiter = new PexRequestLimiter(Interval);
        limiter.OnRequest(Peer, T0);
        limiter.OnRequest(Peer, T0);

        Assert.Equal(Verdict.Forgiven, limiter.OnRequest(Peer, T0 + TimeSpan.FromSeconds(1)));
        Assert.Equal(Verdict.TooSoon, limiter.OnRequest(Peer, T0 + TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void After_a_forgiven_request_a_patient_peer_is_served_again()
    {
        var limiter = new PexRequestLimiter(Interval);
        limiter.OnRequest(Peer, T0);
        limiter.OnRequest(Peer, T0);
        limiter.OnRequest(Peer, T0 + TimeSpan.FromSeconds(1));

        Assert.Equal(Verdict.Accept, limiter.OnRequest(Peer, T0 + TimeSpan.FromSeconds(11)));
    }

    [Fact]
    public void Peers_are_counted_apart_and_a_forgotten_peer_starts_afresh()
    {
        var limiter = new PexRequestLimiter(Interval, earlyRequestsTolerated: 0);
        limiter.OnRequest(Peer, T0);
        limiter.OnRequest(Peer, T0);

        Assert.Equal(Verdict.Accept, limiter.OnRequest(Other, T0));
        Assert.Equal(Verdict.TooSoon, limiter.OnRequest(Peer, T0));
        limiter.Forget(Peer);
        Assert.Null(limiter.NextAllowed(Peer));
        Assert.Equal(Verdict.Accept, limiter.OnRequest(Peer, T0));
        Assert.Equal(2, limiter.Tracked);
    }
}
