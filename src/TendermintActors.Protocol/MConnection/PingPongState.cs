namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// MConnection liveness bookkeeping (docs/protocol.md §5) with time passed in: when to send a ping, whether the pong for
/// it is overdue, and whether a pong is owed. Pings received in a burst before we get to answer owe a single pong,
/// as Go's one-slot pong channel does. Times are any monotonic clock's readings (e.g. the stage's elapsed time).
/// </summary>
public sealed class PingPongState
{
    public PingPongState(TimeSpan pingInterval, TimeSpan pongTimeout, TimeSpan now)
    {
        if (pingInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(pingInterval), pingInterval, "ping interval must be positive");
        if (pongTimeout <= TimeSpan.Zero || pongTimeout >= pingInterval)
            throw new ArgumentOutOfRangeException(nameof(pongTimeout), pongTimeout,
                $"pong timeout must be positive and less than the ping interval ({pingInterval})");
        PingInterval = pingInterval;
        PongTimeout = pongTimeout;
        NextPingAt = now + pingInterval;
    }

    public TimeSpan PingInterval { get; }
    public TimeSpan PongTimeout { get; }

    /// <summary>When the next ping is due.</summary>
    public TimeSpan NextPingAt { get; private set; }

    /// <summary>When the connection fails unless a pong arrives; null when no ping awaits its pong.</summary>
    public TimeSpan? PongDeadline { get; private set; }

    /// <summary>A ping arrived and its pong has not been sent yet.</summary>
    public bool PongOwed { get; private set; }

    /// <summary>The earliest time at which <see cref="IsPingDue"/> or <see cref="IsPongOverdue"/> can change: when to check again.</summary>
    public TimeSpan NextDeadline => PongDeadline is { } deadline && deadline < NextPingAt ? deadline : NextPingAt;

    public void OnPingReceived() => PongOwed = true;

    /// <summary>True once per burst of pings: the caller then sends one pong.</summary>
    public bool TryTakePong()
    {
        if (!PongOwed) return false;
        PongOwed = false;
        return true;
    }

    public bool IsPingDue(TimeSpan now) => now >= NextPingAt;

    /// <summary>Records a ping written at <paramref name="now"/>. An earlier ping still unanswered keeps its deadline.</summary>
    public void OnPingSent(TimeSpan now)
    {
        NextPingAt = now + PingInterval;
        PongDeadline ??= now + PongTimeout;
    }

    /// <summary>Any pong clears the deadline; an unsolicited one is harmless, as in Go.</summary>
    public void OnPongReceived() => PongDeadline = null;

    public bool IsPongOverdue(TimeSpan now) => PongDeadline is { } deadline && now >= deadline;
}
