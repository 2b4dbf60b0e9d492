using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.AddrBook;

/// <summary>Go's bucket_type values, kept so a book file is read and written in Go's format.</summary>
public enum BucketType : byte
{
    New = 1,
    Old = 2,
}

/// <summary>An address the book holds, with where it came from and how dialling it went (Go's knownAddress).</summary>
public sealed class KnownAddress
{
    internal KnownAddress(NetAddress addr, NetAddress src, DateTime lastAttempt)
    {
        Addr = addr;
        Src = src;
        LastAttempt = lastAttempt;
    }

    public NetAddress Addr { get; }

    public NetAddress Src { get; }

    public NodeId Id => Addr.Id;

    /// <summary>Failed attempts since the last success.</summary>
    public int Attempts { get; internal set; }

    public BucketType BucketType { get; internal set; } = BucketType.New;

    /// <summary>The new buckets it sits in (up to four), or its one old bucket.</summary>
    public IReadOnlyList<int> Buckets => BucketList;

    internal List<int> BucketList { get; } = [];

    public DateTime LastAttempt { get; internal set; }

    /// <summary><see cref="DateTime.MinValue"/> (Go's zero time) when it never succeeded.</summary>
    public DateTime LastSuccess { get; internal set; } = DateTime.MinValue;

    /// <summary>When its ban ends (Go stores the end, not the start, under this name).</summary>
    public DateTime LastBanTime { get; internal set; } = DateTime.MinValue;

    public bool IsOld => BucketType == BucketType.Old;

    public bool IsNew => BucketType == BucketType.New;

    public bool IsBanned(DateTime now) => LastBanTime > now;

    internal void MarkAttempt(DateTime now)
    {
        LastAttempt = now;
        Attempts++;
    }

    internal void MarkGood(DateTime now)
    {
        LastAttempt = now;
        LastSuccess = now;
        Attempts = 0;
    }

    internal void Ban(TimeSpan banTime, DateTime now)
    {
        if (LastBanTime < now + banTime)
            LastBanTime = now + banTime;
    }
}
