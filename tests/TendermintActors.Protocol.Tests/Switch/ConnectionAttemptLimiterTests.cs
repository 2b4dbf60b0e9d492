using System.Net;
using TendermintActors.Protocol.Switch;

namespace TendermintActors.Protocol.Tests.Switch;

public class ConnectionAttemptLimiterTests
{
    private static readonly IPAddress A = IPAddress.Parse("203.0.113.1");
    private static readonly IPAddress B = IPAddress.Parse("203.0.113.2");
    private static readonly IPAddress C = IPAddress.Parse("2001:db8::3");

    private static TimeSpan At(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void The_defaults_are_100_attempts_per_60_s()
    {
        var limiter = new ConnectionAttemptLimiter();
        for (var i = 0; i < 100; i++)
            Assert.True(limiter.TryAttempt(A, At(i * 0.5)));
        Assert.False(limiter.TryAttempt(A, At(59.9)));
        Assert.True(limiter.TryAttempt(A, At(60)));
    }

    [Fact]
    public void Attempts_beyond_the_limit_within_the_window_are_refused()
    {
        var limiter = new ConnectionAttemptLimiter(maxAttempts: 3, window: At(60));
        Assert.True(limiter.TryAttempt(A, At(0)));
        Assert.True(limiter.TryAttempt(A, At(1)));
        Assert.True(limiter.TryAttempt(A, At(2)));
        Assert.False(limiter.TryAttempt(A, At(3)));
        Assert.False(limiter.TryAttempt(A, At(59.999)));
    }

    [Fact]
    public void The_window_slides_one_attempt_at_a_time()
    {
        var limiter = new ConnectionAttemptLimiter(maxAttempts: 3, window: At(60));
        limiter.TryAttempt(A, At(0));
        limiter.TryAttempt(A, At(1));
        limiter.TryAttempt(A, At(2));
        Assert.True(limiter.TryAttempt(A, At(60)));     // the attempt at 0 is exactly a window old: gone
        Assert.False(limiter.TryAttempt(A, At(60.5)));
        Assert.True(limiter.TryAttempt(A, At(61)));     // the attempt at 1 has gone
        Assert.False(limiter.TryAttempt(A, At(61.5)));
    }

    [Fact]
    public void Refused_attempts_do_not_count()
    {
        var limiter = new ConnectionAttemptLimiter(maxAttempts: 2, window: At(60));
        Assert.True(limiter.TryAttempt(A, At(0)));
        Assert.True(limiter.TryAttempt(A, At(1)));
        for (var t = 10; t < 60; t += 10)
            Assert.False(limiter.TryAttempt(A, At(t)));
        Assert.True(limiter.TryAttempt(A, At(60)));
        Assert.True(limiter.TryAttempt(A, At(61)));
    }

    [Fact]
    public void Each_IP_has_its_own_window()
    {
        var limiter = new ConnectionAttemptLimiter(maxAttempts: 1, window: At(60));
        Assert.True(limiter.TryAttempt(A, At(0)));
        Assert.False(limiter.TryAttempt(A, At(1)));
        Assert.True(limiter.TryAttempt(B, At(1)));
        Assert.True(limiter.TryAttempt(C, At(1)));
    }

    [Fact]
    public void An_IPv4_mapped_address_is_its_IPv4_address()
    {
        var limiter = new ConnectionAttemptLimiter(maxAttempts: 1, window: At(60));
        Assert.True(limiter.TryAttempt(A, At(0)));
        Assert.False(limiter.TryAttempt(A.MapToIPv6(), At(1)));
        Assert.Equal(1, limiter.TrackedIps);
    }

    [Fact]
    public void IPs_whose_window_has_passed_are_forgotten()
    {
        var limiter = new ConnectionAttemptLimiter(maxAttempts: 5, window: At(60));
        limiter.TryAttempt(A, At(0));
        limiter.TryAttempt(B, At(10));
        limiter.TryAttempt(C, At(20));
        Assert.Equal(3, limiter.TrackedIps);
        limiter.TryAttempt(C, At(69));                  // A's last attempt left the window at 60
        Assert.Equal(2, limiter.TrackedIps);
        limiter.TryAttempt(C, At(200));
        Assert.Equal(1, limiter.TrackedIps);
    }

    [Fact]
    public void Beyond_the_cap_the_IP_quiet_longest_is_forgotten()
    {
        var limiter = new ConnectionAttemptLimiter(maxAttempts: 1, window: At(60), maxTrackedIps: 2);
        Assert.True(limiter.TryAttempt(A, At(0)));
        Assert.True(limiter.TryAttempt(B, At(1)));
        Assert.False(limiter.TryAttempt(A, At(2)));     // refused, but A is the most recent now
        Assert.True(limiter.TryAttempt(C, At(3)));      // evicts B, quiet since 1
        Assert.Equal(2, limiter.TrackedIps);
        Assert.False(limiter.TryAttempt(A, At(4)));     // A was kept: still limited
        Assert.True(limiter.TryAttempt(B, At(5)));      // B was forgotten: let through again
        Assert.Equal(2, limiter.TrackedIps);
    }

    [Fact]
    public void Memory_stays_within_the_cap_under_a_flood_of_addresses()
    {
        var limiter = new ConnectionAttemptLimiter(maxTrackedIps: 1000);
        for (var i = 0; i < 5000; i++)
            Assert.True(limiter.TryAttempt(new IPAddress(0x0A000000u + (uint)i), At(i * 0.001)));
        Assert.Equal(1000, limiter.TrackedIps);
    }

    [Fact]
    public void Time_going_backwards_is_refused()
    {
        var limiter = new ConnectionAttemptLimiter();
        limiter.TryAttempt(A, At(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => limiter.TryAttempt(A, At(9)));
        Assert.True(limiter.TryAttempt(A, At(10)));     // the same time again is fine
    }

    [Fact]
    public void Settings_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConnectionAttemptLimiter(maxAttempts: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConnectionAttemptLimiter(window: TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConnectionAttemptLimiter(maxTrackedIps: 0));
    }
}
