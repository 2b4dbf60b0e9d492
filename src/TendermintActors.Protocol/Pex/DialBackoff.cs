using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Pex;

/// <summary>
/// PEX's per-address dial backoff (docs/protocol.md §7, Go's <c>dialPeer</c>): after n failed dials the next waits
/// 2^n s plus up to 1 s of jitter since the last one (capped for persistent peers by
/// <c>persistent-peers-max-dial-period</c>); a non-persistent address that failed more than 16 times is given up
/// (the caller marks it bad). An authentication failure forgets the history (the book drops the address).
/// </summary>
public sealed class DialBackoff(Func<double> random, int maxAttempts = PexConstants.DefaultMaxAttemptsToDial, TimeSpan maxDialPeriod = default)
{
    private readonly Dictionary<string, (int Attempts, DateTimeOffset LastDialed)> _history = [];

    public abstract record Decision
    {
        private Decision() { }

        public sealed record Dial : Decision
        {
            public static readonly Dial Instance = new();
        }

        /// <summary>Wait: the backoff since the last failed dial has not passed.</summary>
        public sealed record TooEarly(DateTimeOffset NotBefore, int Attempts) : Decision;

        /// <summary>Failed too often: mark it bad and stop trying.</summary>
        public sealed record GiveUp(int Attempts) : Decision;
    }

    /// <summary>May we dial <paramref name="address"/> now?</summary>
    public Decision Check(NetAddress address, bool persistent, DateTimeOffset now)
    {
        if (!_history.TryGetValue(Key(address), out var h) || h.Attempts == 0)
            return Decision.Dial.Instance;
        if (!persistent && h.Attempts > maxAttempts)
            return new Decision.GiveUp(h.Attempts);
        var backoff = Backoff(h.Attempts, persistent);
        return now - h.LastDialed < backoff ? new Decision.TooEarly(h.LastDialed + backoff, h.Attempts) : Decision.Dial.Instance;
    }

    /// <summary>2^attempts s plus jitter, capped by the max dial period for persistent peers (when one is set).</summary>
    public TimeSpan Backoff(int attempts, bool persistent)
    {
        var jitter = TimeSpan.FromTicks((long)(random() * PexConstants.DialBackoffJitter.Ticks));
        var backoff = jitter + TimeSpan.FromSeconds(Math.Pow(2, Math.Min(attempts, 30)));
        if (persistent && maxDialPeriod > TimeSpan.Zero && backoff > maxDialPeriod)
            backoff = maxDialPeriod;
        return backoff;
    }

    public void RecordFailure(NetAddress address, DateTimeOffset now)
    {
        var key = Key(address);
        var attempts = _history.TryGetValue(key, out var h) ? h.Attempts : 0;
        _history[key] = (attempts + 1, now);
    }

    /// <summary>A successful dial, an authentication failure or a give-up: the history goes.</summary>
    public void Forget(NetAddress address) => _history.Remove(Key(address));

    public int Attempts(NetAddress address) => _history.TryGetValue(Key(address), out var h) ? h.Attempts : 0;

    // Go keys the history by dial string (ip:port): a new ID at the same place inherits the backoff.
    private static string Key(NetAddress address) => address.HostPort;
}
