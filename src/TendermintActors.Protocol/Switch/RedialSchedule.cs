namespace TendermintActors.Protocol.Switch;

/// <summary>
/// When to redial a persistent peer that dropped or could not be dialled (docs/protocol.md §6), as Go's
/// <c>Switch.reconnectToPeer</c> does: 20 tries 5 s apart (the first at once), then 10 tries with exponential
/// backoff 3^i s (i = 0..9), then give up. Every wait but the first gets up to 3 s of random jitter, as
/// Go's <c>randomSleep</c> adds.
/// <para>
/// With <c>persistent-peers-max-dial-period</c> set, every wait is capped at it and the peer is redialled forever at
/// the cap instead of given up. In Go the cap lives in PEX: the reactor caps its own dial backoff for persistent
/// addresses and never marks them bad, so it keeps dialling them after the switch's loop has given up. We fold both
/// loops into this one schedule; the visible behaviour (never give up, never wait longer than the cap) is the same.
/// </para>
/// </summary>
public sealed class RedialSchedule
{
    public const int DefaultReconnectAttempts = 20;
    public static readonly TimeSpan DefaultReconnectInterval = TimeSpan.FromSeconds(5);
    public const int DefaultBackOffAttempts = 10;
    public const double DefaultBackOffBaseSeconds = 3;
    public static readonly TimeSpan DefaultMaxJitter = TimeSpan.FromSeconds(3);

    private readonly Func<double> _random;

    /// <param name="random">Uniform in [0, 1] (e.g. <c>Random.Shared.NextDouble</c>); scales the jitter.</param>
    /// <param name="maxDialPeriod"><c>persistent-peers-max-dial-period</c>; zero or less means no cap (and give up).</param>
    /// <param name="reconnectAttempts">Tries of the first loop, a fixed interval apart (the first at once).</param>
    /// <param name="reconnectInterval">The first loop's interval (default 5 s).</param>
    /// <param name="backOffAttempts">Tries of the second loop, base^i s apart for i = 0 .. backOffAttempts - 1.</param>
    /// <param name="backOffBaseSeconds">The second loop's base.</param>
    /// <param name="maxJitter">The most random time added to each wait (default 3 s).</param>
    public RedialSchedule(
        Func<double> random,
        TimeSpan maxDialPeriod = default,
        int reconnectAttempts = DefaultReconnectAttempts,
        TimeSpan? reconnectInterval = null,
        int backOffAttempts = DefaultBackOffAttempts,
        double backOffBaseSeconds = DefaultBackOffBaseSeconds,
        TimeSpan? maxJitter = null)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfNegative(reconnectAttempts);
        ArgumentOutOfRangeException.ThrowIfNegative(backOffAttempts);
        if (!(backOffBaseSeconds >= 1))
            throw new ArgumentOutOfRangeException(nameof(backOffBaseSeconds), backOffBaseSeconds, "backoff base must be at least 1");
        // The longest backoff must be a TimeSpan; a day's worth of seconds is far beyond any sane setting.
        if (backOffAttempts > 0 && Math.Pow(backOffBaseSeconds, backOffAttempts - 1) > TimeSpan.FromDays(3650).TotalSeconds)
            throw new ArgumentOutOfRangeException(nameof(backOffAttempts), backOffAttempts, "the longest backoff would exceed ten years");
        _random = random;
        MaxDialPeriod = maxDialPeriod > TimeSpan.Zero ? maxDialPeriod : TimeSpan.Zero;
        ReconnectAttempts = reconnectAttempts;
        ReconnectInterval = reconnectInterval ?? DefaultReconnectInterval;
        BackOffAttempts = backOffAttempts;
        BackOffBaseSeconds = backOffBaseSeconds;
        MaxJitter = maxJitter ?? DefaultMaxJitter;
        if (ReconnectInterval < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(reconnectInterval), ReconnectInterval, "must not be negative");
        if (MaxJitter < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(maxJitter), MaxJitter, "must not be negative");
    }

    public TimeSpan MaxDialPeriod { get; }
    public int ReconnectAttempts { get; }
    public TimeSpan ReconnectInterval { get; }
    public int BackOffAttempts { get; }
    public double BackOffBaseSeconds { get; }
    public TimeSpan MaxJitter { get; }

    /// <summary>Whether the peer is redialled forever (a max dial period is set).</summary>
    public bool IsUnbounded => MaxDialPeriod > TimeSpan.Zero;

    /// <summary>Redials before giving up (when not unbounded): both loops.</summary>
    public int TotalAttempts => ReconnectAttempts + BackOffAttempts;

    /// <summary>The random spread of a dial at start (Go's <c>randomSleep(0)</c> in <c>dialPeersAsync</c>).</summary>
    public TimeSpan StartDelay() => Jitter();

    /// <summary>
    /// How long to wait before redial number <paramref name="attempt"/> (0-based, counted since the peer dropped or
    /// its dial first failed); null when it is time to give up.
    /// </summary>
    /// <remarks>
    /// Go's first loop dials, then sleeps the interval after each failure, so its first redial goes at once. Its
    /// backoff loop sleeps <em>before</em> each dial, so the sleep after the last interval dial and the first backoff
    /// sleep run back to back: the wait before redial <c>ReconnectAttempts</c> is interval + 3^0 s, with two jitters.
    /// We keep that seam so that our timing matches a Go node's.
    /// </remarks>
    public TimeSpan? NextDelay(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        if (attempt >= TotalAttempts)
            return IsUnbounded ? MaxDialPeriod : null;

        var wait = TimeSpan.Zero;
        if (attempt >= 1 && attempt <= ReconnectAttempts)
            wait += ReconnectInterval + Jitter();
        if (attempt >= ReconnectAttempts)
            wait += BackOff(attempt - ReconnectAttempts);
        return IsUnbounded && wait > MaxDialPeriod ? MaxDialPeriod : wait;
    }

    private TimeSpan BackOff(int i) => TimeSpan.FromSeconds(Math.Pow(BackOffBaseSeconds, i)) + Jitter();

    private TimeSpan Jitter()
    {
        var r = _random();
        if (!(r is >= 0 and <= 1))
            throw new InvalidOperationException($"the random source returned {r}, outside [0, 1]");
        return MaxJitter * r;
    }
}
