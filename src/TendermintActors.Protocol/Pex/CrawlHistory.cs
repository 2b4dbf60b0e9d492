using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Pex;

/// <summary>
/// What a seed has crawled and when (Go's crawlPeerInfos): an address is crawled at most once per
/// <c>min-time-between-crawls</c>, and records older than a day are forgotten.
/// </summary>
public sealed class CrawlHistory(TimeSpan minTimeBetweenCrawls)
{
    private readonly Dictionary<NodeId, DateTimeOffset> _lastCrawled = [];

    /// <summary>True (and recorded) when <paramref name="address"/> may be crawled now.</summary>
    public bool TryStart(NetAddress address, DateTimeOffset now)
    {
        if (_lastCrawled.TryGetValue(address.Id, out var last) && now - last < minTimeBetweenCrawls)
            return false;
        _lastCrawled[address.Id] = now;
        return true;
    }

    public void Cleanup(DateTimeOffset now)
    {
        foreach (var (id, last) in _lastCrawled.ToList())
            if (now - last > PexConstants.CrawlRecordLifetime)
                _lastCrawled.Remove(id);
    }

    public int Count => _lastCrawled.Count;
}
