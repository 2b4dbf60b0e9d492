using System.Net;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Switch;

/// <summary>
/// Rate of incoming connection attempts per remote IP (docs/protocol.md §6): at most <see cref="MaxAttempts"/>
/// (<c>max-incoming-connection-attempts</c>) in any <see cref="Window"/> (<c>connection-attempt-window</c>), a true
/// sliding window. Checked when a connection is accepted, before any handshake work is spent on it.
/// </summary>
/// <remarks>
/// Only allowed attempts are recorded: an IP over the limit gets through again as soon as its oldest allowed attempt
/// leaves the window, however hard it keeps trying. Memory is bounded: an IP is forgotten once its last attempt has
/// left the window, and beyond <see cref="MaxTrackedIps"/> the IP that has been quiet longest is forgotten early
/// (which can only let it through sooner; an attacker needs that many addresses to make use of it).
/// Times are readings of any monotonic clock and must not go backwards.
/// </remarks>
public sealed class ConnectionAttemptLimiter
{
    public const int DefaultMaxAttempts = 100;
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(60);
    public const int DefaultMaxTrackedIps = 10_000;

    // Ordered by last attempt, oldest first: expiry and eviction both take from the front.
    private readonly LinkedList<Tracked> _byLastAttempt = new();
    private readonly Dictionary<IPAddress, LinkedListNode<Tracked>> _byIp = new();
    private TimeSpan _latest = TimeSpan.MinValue;

    public ConnectionAttemptLimiter(int maxAttempts = DefaultMaxAttempts, TimeSpan? window = null, int maxTrackedIps = DefaultMaxTrackedIps)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxAttempts);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTrackedIps);
        Window = window ?? DefaultWindow;
        if (Window <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(window), Window, "the window must be positive");
        MaxAttempts = maxAttempts;
        MaxTrackedIps = maxTrackedIps;
    }

    public int MaxAttempts { get; }
    public TimeSpan Window { get; }
    public int MaxTrackedIps { get; }

    /// <summary>IPs currently remembered.</summary>
    public int TrackedIps => _byIp.Count;

    /// <summary>Records an attempt from <paramref name="ip"/> at <paramref name="now"/> if it is within the limit.</summary>
    public bool TryAttempt(IPAddress ip, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(ip);
        if (now < _latest)
            throw new ArgumentOutOfRangeException(nameof(now), now, $"time went backwards (last seen {_latest})");
        _latest = now;
        ip = NetAddress.Normalise(ip);

        ForgetExpired(now);
        if (_byIp.TryGetValue(ip, out var node))
        {
            // Moved to the back: an IP hammering us is the last to be evicted, so it cannot reset its own count.
            _byLastAttempt.Remove(node);
            _byLastAttempt.AddLast(node);
        }
        else
        {
            if (_byIp.Count >= MaxTrackedIps)
            {
                _byIp.Remove(_byLastAttempt.First!.Value.Ip);
                _byLastAttempt.RemoveFirst();
            }
            node = _byLastAttempt.AddLast(new Tracked(ip));
            _byIp.Add(ip, node);
        }

        var tracked = node.Value;
        tracked.LastAttempt = now;
        var attempts = tracked.Allowed;
        while (attempts.Count > 0 && attempts.Peek() <= now - Window)
            attempts.Dequeue();
        if (attempts.Count >= MaxAttempts)
            return false;
        attempts.Enqueue(now);
        return true;
    }

    // An attempt at t is in the window (now - Window, now]: one exactly Window old has left it.
    private void ForgetExpired(TimeSpan now)
    {
        while (_byLastAttempt.First is { } oldest && oldest.Value.LastAttempt <= now - Window)
        {
            _byIp.Remove(oldest.Value.Ip);
            _byLastAttempt.RemoveFirst();
        }
    }

    private sealed class Tracked(IPAddress ip)
    {
        public IPAddress Ip { get; } = ip;
        public TimeSpan LastAttempt { get; set; }

        /// <summary>Times of the allowed attempts still in the window, oldest first; never more than MaxAttempts.</summary>
        public Queue<TimeSpan> Allowed { get; } = new();
    }
}
