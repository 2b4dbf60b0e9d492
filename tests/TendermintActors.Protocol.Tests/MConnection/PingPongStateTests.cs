using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Protocol.Tests.MConnection;

public class PingPongStateTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(1000);
    private static TimeSpan At(double seconds) => Start + TimeSpan.FromSeconds(seconds);

    private static PingPongState Create() => new(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(45), Start);

    [Fact]
    public void A_burst_of_pings_owes_one_pong()
    {
        var s = Create();
        Assert.False(s.TryTakePong());
        s.OnPingReceived();
        s.OnPingReceived();
        s.OnPingReceived();
        Assert.True(s.PongOwed);
        Assert.True(s.TryTakePong());
        Assert.False(s.TryTakePong());
        s.OnPingReceived();
        Assert.True(s.TryTakePong());
    }

    [Fact]
    public void A_ping_is_due_every_interval_from_the_last_one_sent()
    {
        var s = Create();
        Assert.False(s.IsPingDue(At(59.9)));
        Assert.True(s.IsPingDue(At(60)));
        s.OnPingSent(At(61));
        Assert.False(s.IsPingDue(At(120)));
        Assert.True(s.IsPingDue(At(121)));
    }

    [Fact]
    public void A_pong_not_received_within_the_timeout_is_overdue()
    {
        var s = Create();
        Assert.False(s.IsPongOverdue(At(500)));
        s.OnPingSent(At(60));
        Assert.Equal(At(105), s.PongDeadline);
        Assert.Equal(At(105), s.NextDeadline);
        Assert.False(s.IsPongOverdue(At(104.9)));
        Assert.True(s.IsPongOverdue(At(105)));
    }

    [Fact]
    public void A_pong_clears_the_deadline()
    {
        var s = Create();
        s.OnPingSent(At(60));
        s.OnPongReceived();
        Assert.Null(s.PongDeadline);
        Assert.False(s.IsPongOverdue(At(200)));
        Assert.Equal(At(120), s.NextDeadline);
    }

    [Fact]
    public void A_later_ping_does_not_extend_an_unanswered_one()
    {
        var s = Create();
        s.OnPingSent(At(60));
        s.OnPingSent(At(100));
        Assert.Equal(At(105), s.PongDeadline);
    }

    [Fact]
    public void The_pong_timeout_must_be_shorter_than_the_ping_interval()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PingPongState(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), Start));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PingPongState(TimeSpan.FromSeconds(10), TimeSpan.Zero, Start));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PingPongState(TimeSpan.Zero, TimeSpan.FromSeconds(-1), Start));
    }
}
