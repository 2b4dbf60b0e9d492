namespace TendermintActors.Protocol.Pex;

/// <summary>
/// Every tuning constant of PEX in one place (docs/protocol.md §7), with Go's value. Those an operator may want to change
/// are also keys of <c>tendermint.p2p</c> (named beside each); the rest are part of the protocol.
/// </summary>
public static class PexConstants
{
    /// <summary>The PEX channel.</summary>
    public const byte Channel = 0x00;

    /// <summary>PEX's channel priority and send queue (Go: 1 and 10).</summary>
    public const int Priority = 1;

    public const int SendQueueCapacity = 10;

    /// <summary>The most bytes one encoded address may take, as Go budgets it.</summary>
    public const int MaxAddressSize = 256;

    /// <summary>The most addresses a selection holds (Go's maxGetSelection): also bounds a PexAddrs we accept.</summary>
    public const int MaxGetSelection = 250;

    /// <summary>The PEX channel's receive message capacity: 256 × 250 bytes.</summary>
    public const int MaxMessageSize = MaxAddressSize * MaxGetSelection;

    /// <summary>How often ensure-peers runs (<c>ensure-peers-period</c>; Go: 30 s).</summary>
    public static readonly TimeSpan DefaultEnsurePeersPeriod = TimeSpan.FromSeconds(30);

    /// <summary>A peer's requests after its second must be this far apart: ensure-peers-period / 3 (10 s by default).</summary>
    public static TimeSpan MinReceiveRequestInterval(TimeSpan ensurePeersPeriod) => ensurePeersPeriod / 3;

    /// <summary>Requests a peer may send before the interval rule applies (Go: the first two get a free pass).</summary>
    public const int FreeRequests = 2;

    /// <summary>
    /// Early requests forgiven per peer before the rule bites (<c>pex-early-requests-tolerated</c>; Go: 0). Honest Go
    /// peers have been seen sending one request too soon (docs/protocol.md §7 allows leniency for a single one).
    /// </summary>
    public const int DefaultEarlyRequestsTolerated = 1;

    /// <summary>How long a misbehaving peer's address stays banned (<c>pex-ban-time</c>; Go's defaultBanTime: 24 h).</summary>
    public static readonly TimeSpan DefaultBanTime = TimeSpan.FromHours(24);

    /// <summary>After this many failed dials a non-persistent address is marked bad (<c>pex-max-dial-attempts</c>; Go: 16).</summary>
    public const int DefaultMaxAttemptsToDial = 16;

    /// <summary>The ensure-peers bias towards new addresses: 10 % plus 10 % per outbound peer, up to 8 peers (10–90 %).</summary>
    public static int NewBucketBias(int outboundPeers) => Math.Min(Math.Max(outboundPeers, 0), 8) * 10 + 10;

    /// <summary>Ensure-peers picks from the book up to this many times the number of addresses it needs.</summary>
    public const int PickTriesPerDial = 3;

    /// <summary>A seed's answer is biased this much (percent) towards new addresses (Go's biasToSelectNewPeers).</summary>
    public const int SeedSelectionBias = 30;

    /// <summary>How often a seed crawls (<c>crawl-period</c>; Go's crawlPeerPeriod: 30 s).</summary>
    public static readonly TimeSpan DefaultCrawlPeriod = TimeSpan.FromSeconds(30);

    /// <summary>A seed does not crawl the same address again within this (<c>min-time-between-crawls</c>; Go: 2 min).</summary>
    public static readonly TimeSpan DefaultMinTimeBetweenCrawls = TimeSpan.FromMinutes(2);

    /// <summary>Crawl records older than this are forgotten (Go: 24 h; the address has left the book by then).</summary>
    public static readonly TimeSpan CrawlRecordLifetime = TimeSpan.FromHours(24);

    /// <summary>A seed disconnects non-persistent peers connected longer than this (<c>seed-disconnect-wait-period</c>; CometBFT: 28 h).</summary>
    public static readonly TimeSpan DefaultSeedDisconnectWaitPeriod = TimeSpan.FromHours(28);

    /// <summary>Up to this much random time is added to each dial backoff (Go: 1 s).</summary>
    public static readonly TimeSpan DialBackoffJitter = TimeSpan.FromSeconds(1);
}
