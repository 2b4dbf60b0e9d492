using System.Globalization;

namespace TendermintActors.Logging;

/// <summary>
/// Remembers which keys (peers, addresses, IPs) a notice was logged for, so that it is logged once per key. Bounded:
/// past <see cref="Capacity"/> keys it starts over, so a flood of distinct addresses costs at most a repeat.
/// </summary>
internal sealed class LogOnce
{
    public const int Capacity = 1024;

    /// <summary>What a loopback (or private) test network needs, told with the refusals it would otherwise meet.</summary>
    public const string LocalNetworkHint =
        "for a local test network set tendermint.p2p.addr-book-strict = off and tendermint.p2p.allow-duplicate-ip = on";

    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    /// <summary>True the first time <paramref name="key"/> is seen.</summary>
    public bool First(string key)
    {
        if (_seen.Count >= Capacity && !_seen.Contains(key))
            _seen.Clear();
        return _seen.Add(key);
    }

    /// <summary>A delay as operators read it: "5.2s".</summary>
    public static string Seconds(TimeSpan delay) => delay.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";

    /// <summary>A moment in UTC, ISO 8601 to the millisecond.</summary>
    public static string At(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
