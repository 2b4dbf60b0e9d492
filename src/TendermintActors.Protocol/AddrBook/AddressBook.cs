using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.AddrBook;

/// <summary>
/// The address book's buckets and rules (docs/protocol.md §8), as Go's p2p/pex addrbook: Bitcoin-style new and old
/// buckets placed by a keyed hash, so that one source or one network can only ever hold a slice of the book.
/// No I/O, no clock, no shared randomness: time and <see cref="Random"/> are passed in. Not thread-safe; the
/// actor that owns it is its only user.
/// </summary>
public sealed class AddressBook
{
    public const int NewBucketCount = 256;
    public const int OldBucketCount = 64;
    public const int NewBucketSize = 64;
    public const int OldBucketSize = 64;

    /// <summary>How many new buckets the addresses from one source group can spread over.</summary>
    public const int NewBucketsPerGroup = 32;

    /// <summary>How many old buckets the addresses of one group can spread over.</summary>
    public const int OldBucketsPerGroup = 4;

    public const int MaxNewBucketsPerAddress = 4;

    /// <summary>Below this size the book asks peers for more addresses.</summary>
    public const int NeedAddressThreshold = 1000;

    public const int MinGetSelection = 32;
    public const int GetSelectionPercent = 23;
    public const int MaxGetSelection = 250;

    /// <summary>An address never dialled successfully is bad after this many tries.</summary>
    public const int NumRetries = 3;

    /// <summary>Not attempted for this long: bad.</summary>
    public static readonly TimeSpan NumMissingDays = TimeSpan.FromDays(30);

    /// <summary>This many failures with no success in <see cref="MinBadDays"/>: bad.</summary>
    public const int MaxFailures = 10;

    public static readonly TimeSpan MinBadDays = TimeSpan.FromDays(7);

    private readonly List<KnownAddress>[] _newBuckets = NewBuckets();
    private readonly List<KnownAddress>[] _oldBuckets = OldBuckets();
    private readonly Dictionary<NodeId, KnownAddress> _lookup = [];
    private readonly Dictionary<NodeId, KnownAddress> _badPeers = [];
    private readonly HashSet<string> _ourAddrs = [];
    private readonly HashSet<NodeId> _ourIds = [];
    private readonly HashSet<NodeId> _privateIds = [];
    private readonly Random _random;
    private readonly byte[] _keyBytes;

    /// <param name="key">The book's secret hash key (Go: 24 random hex characters); kept in the file.</param>
    /// <param name="routabilityStrict">addr-book-strict: refuse addresses that are not routable on the Internet.</param>
    /// <param name="random">Decides whether a known address goes into one more new bucket.</param>
    public AddressBook(string key, bool routabilityStrict, Random random)
    {
        if (string.IsNullOrEmpty(key))
            throw new ArgumentException("the address book key must not be empty", nameof(key));
        Key = key;
        _keyBytes = Encoding.UTF8.GetBytes(key);
        RoutabilityStrict = routabilityStrict;
        _random = random;
    }

    /// <summary>A book with a fresh random key, as Go makes one when there is no file.</summary>
    public static AddressBook CreateNew(bool routabilityStrict, Random random) =>
        new(NewKey(random), routabilityStrict, random);

    /// <summary>24 hex characters, as Go's crypto.CRandHex(24).</summary>
    public static string NewKey(Random random)
    {
        Span<byte> bytes = stackalloc byte[12];
        random.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    public string Key { get; }

    public bool RoutabilityStrict { get; }

    public int Size => _lookup.Count;

    public int NewCount { get; private set; }

    public int OldCount { get; private set; }

    public bool IsEmpty => Size == 0;

    public bool NeedMoreAddrs() => Size < NeedAddressThreshold;

    public IEnumerable<KnownAddress> KnownAddresses => _lookup.Values;

    public IEnumerable<KnownAddress> BannedAddresses => _badPeers.Values;

    public void AddOurAddress(NetAddress addr)
    {
        _ourAddrs.Add(addr.ToString());
        _ourIds.Add(addr.Id);
    }

    public bool OurAddress(NetAddress addr) => _ourAddrs.Contains(addr.ToString()) || _ourIds.Contains(addr.Id);

    /// <summary>Private peers are never gossiped, so they are never stored, nor anything they tell us.</summary>
    public void SetPrivateIDs(IEnumerable<NodeId> ids)
    {
        _privateIds.Clear();
        _privateIds.UnionWith(ids);
    }

    public bool HasAddress(NetAddress addr) => _lookup.ContainsKey(addr.Id);

    /// <summary>The entry for an ID, or null.</summary>
    public KnownAddress? Get(NodeId id) => _lookup.GetValueOrDefault(id);

    /// <summary>True when we have connected to it successfully (it sits in an old bucket).</summary>
    public bool IsGood(NetAddress addr) => _lookup.TryGetValue(addr.Id, out var ka) && ka.IsOld;

    /// <summary>Banned until the ban expires; an expired ban still lists the ID until it is reinstated or re-added.</summary>
    public bool IsBanned(NetAddress addr, DateTime now) => _badPeers.TryGetValue(addr.Id, out var ka) && ka.IsBanned(now);

    public AddResult AddAddress(NetAddress addr, NetAddress src, DateTime now)
    {
        if (RefusalReason(addr, src, now) is { } reason)
            return new AddResult.Refused(reason);

        if (_lookup.TryGetValue(addr.Id, out var known))
        {
            // A good address keeps its IP: letting gossip change it would let any peer redirect our best peers.
            if (known.IsOld || known.BucketList.Count >= MaxNewBucketsPerAddress)
                return AddResult.AlreadyKnown.Instance;
            // The more buckets an address is in, the less a further report of it counts.
            if (_random.Next(2 * known.BucketList.Count) != 0)
                return AddResult.AlreadyKnown.Instance;
            AddToNewBucket(known, NewBucketIndex(known.Addr, src), now);
            return AddResult.AlreadyKnown.Instance;
        }

        // An expired ban on this ID is over; a new report starts it afresh.
        _badPeers.Remove(addr.Id);
        var ka = new KnownAddress(addr, src, now);
        AddToNewBucket(ka, NewBucketIndex(addr, src), now);
        return AddResult.Added.Instance;
    }

    /// <summary>Why <see cref="AddAddress"/> would refuse the address, or null.</summary>
    public string? RefusalReason(NetAddress addr, NetAddress src, DateTime now)
    {
        if (addr.Id.IsEmpty)
            return $"address {addr} has no valid node ID";
        if (addr.Ip is not { } ip)
            return $"address {addr} has no IP (a host name cannot be stored)";
        if (IpRanges.InvalidReason(ip) is { } invalid)
            return $"address {addr} is invalid: {invalid}";
        if (IsBanned(addr, now))
            return $"address {addr} is banned";
        if (_privateIds.Contains(addr.Id))
            return $"address {addr} has a private ID";
        if (_privateIds.Contains(src.Id))
            return $"source {src} has a private ID";
        if (OurAddress(addr))
            return $"address {addr} is our own";
        if (RoutabilityStrict && IpRanges.UnroutableReason(ip) is { } unroutable)
            return $"address {addr} is not routable: {unroutable}";
        return null;
    }

    public void MarkAttempt(NetAddress addr, DateTime now)
    {
        if (_lookup.TryGetValue(addr.Id, out var ka))
            ka.MarkAttempt(now);
    }

    /// <summary>A successful connection: the address becomes "good" and moves to an old bucket.</summary>
    public void MarkGood(NodeId id, DateTime now)
    {
        if (!_lookup.TryGetValue(id, out var ka))
            return;
        ka.MarkGood(now);
        if (ka.IsNew)
            MoveToOld(ka, now);
    }

    /// <summary>Removes the address and bans its ID for <paramref name="banTime"/>; unknown addresses are ignored, as in Go.</summary>
    public void MarkBad(NetAddress addr, TimeSpan banTime, DateTime now)
    {
        if (!_lookup.TryGetValue(addr.Id, out var ka))
            return;
        if (!_badPeers.ContainsKey(ka.Id))
        {
            ka.Ban(banTime, now);
            _badPeers[ka.Id] = ka;
        }
        RemoveFromAllBuckets(ka);
    }

    /// <summary>Puts the addresses whose ban has ended back into a new bucket.</summary>
    public IReadOnlyList<NetAddress> ReinstateBadPeers(DateTime now)
    {
        var reinstated = new List<NetAddress>();
        foreach (var ka in _badPeers.Values.ToList())
        {
            if (ka.IsBanned(now))
                continue;
            _badPeers.Remove(ka.Id);
            if (_lookup.ContainsKey(ka.Id))
                continue;
            ka.BucketType = BucketType.New;
            AddToNewBucket(ka, NewBucketIndex(ka.Addr, ka.Src), now);
            reinstated.Add(ka.Addr);
        }
        return reinstated;
    }

    public void RemoveAddress(NetAddress addr)
    {
        if (_lookup.TryGetValue(addr.Id, out var ka))
            RemoveFromAllBuckets(ka);
    }

    /// <summary>
    /// Go's isBad: a new address not tried in the last minute that was last tried a month ago, or never
    /// succeeded after <see cref="NumRetries"/> tries, or failed <see cref="MaxFailures"/> times with no success in
    /// a week. Old (good) addresses are never bad. As in Go, a bad address is only dropped to make room in its full
    /// new bucket (<see cref="ExpireNew"/>), never by age alone: a book that sat unused for a month keeps its addresses.
    /// </summary>
    public static bool IsBad(KnownAddress ka, DateTime now)
    {
        if (ka.IsOld)
            return false;
        if (ka.LastAttempt > now - TimeSpan.FromMinutes(1))
            return false;
        if (ka.LastAttempt < now - NumMissingDays)
            return true;
        if (ka.LastSuccess == DateTime.MinValue && ka.Attempts >= NumRetries)
            return true;
        if (ka.LastSuccess < now - MinBadDays && ka.Attempts >= MaxFailures)
            return true;
        return false;
    }

    /// <summary>
    /// A random address to dial, or null when the book is empty. <paramref name="biasTowardsNewPercent"/> (0-100)
    /// weighs new against old buckets, scaled by the square root of how many each holds, as in Go.
    /// </summary>
    public NetAddress? PickAddress(int biasTowardsNewPercent, Random random)
    {
        if (Size == 0)
            return null;
        var bias = Math.Clamp(biasTowardsNewPercent, 0, 100);
        var oldCorrelation = Math.Sqrt(OldCount) * (100.0 - bias);
        var newCorrelation = Math.Sqrt(NewCount) * bias;
        var pickOld = (newCorrelation + oldCorrelation) * random.NextDouble() < oldCorrelation;
        // Go gives up when the chosen kind is empty; taking the other kind never returns nothing from a non-empty book.
        if (pickOld && OldCount == 0)
            pickOld = false;
        else if (!pickOld && NewCount == 0)
            pickOld = true;
        var buckets = pickOld ? _oldBuckets : _newBuckets;
        List<KnownAddress> bucket;
        do
            bucket = buckets[random.Next(buckets.Length)];
        while (bucket.Count == 0);
        return bucket[random.Next(bucket.Count)].Addr;
    }

    /// <summary>How many addresses a selection holds: max(min(32, n), 23% of n), at most 250.</summary>
    public static int SelectionSize(int bookSize) =>
        bookSize <= 0 ? 0 : Math.Min(MaxGetSelection, Math.Max(Math.Min(MinGetSelection, bookSize), bookSize * GetSelectionPercent / 100));

    /// <summary>A random selection of the book, in random order, to answer a PEX request.</summary>
    public IReadOnlyList<NetAddress> GetSelection(Random random)
    {
        var count = SelectionSize(Size);
        var all = _lookup.Values.Select(ka => ka.Addr).ToArray();
        // A partial Fisher-Yates: only the first `count` places are needed.
        for (var i = 0; i < count; i++)
        {
            var j = random.Next(i, all.Length);
            (all[i], all[j]) = (all[j], all[i]);
        }
        return all[..count];
    }

    /// <summary>
    /// A selection of the same size whose first bias% (more when there are too few old ones) are new addresses,
    /// the rest old; seeds use it to hand out fresh addresses.
    /// </summary>
    public IReadOnlyList<NetAddress> GetSelectionWithBias(int biasTowardsNewPercent, Random random)
    {
        var count = SelectionSize(Size);
        if (count == 0)
            return [];
        var bias = Math.Clamp(biasTowardsNewPercent, 0, 100);
        var newWanted = Math.Max((int)Math.Round(bias / 100.0 * count, MidpointRounding.AwayFromZero), count - OldCount);
        var selection = RandomPick(BucketType.New, newWanted, random);
        selection.AddRange(RandomPick(BucketType.Old, count - selection.Count, random));
        return selection;
    }

    /// <summary>The entries of one bucket (for tests and diagnostics).</summary>
    public IReadOnlyList<KnownAddress> Bucket(BucketType type, int index) =>
        type == BucketType.New ? _newBuckets[index] : _oldBuckets[index];

    /// <summary>The new bucket an address from a source goes to: the source's group picks 32 of the 256.</summary>
    public int NewBucketIndex(NetAddress addr, NetAddress src)
    {
        var srcGroup = GroupKey(src);
        var first = HashToUInt64(Concat(_keyBytes, Encoding.UTF8.GetBytes(GroupKey(addr)), Encoding.UTF8.GetBytes(srcGroup)))
            % NewBucketsPerGroup;
        return (int)(HashToUInt64(Concat(_keyBytes, Encoding.UTF8.GetBytes(srcGroup), BigEndian(first))) % NewBucketCount);
    }

    /// <summary>The old bucket of an address: its group picks 4 of the 64.</summary>
    public int OldBucketIndex(NetAddress addr)
    {
        var first = HashToUInt64(Concat(_keyBytes, Encoding.UTF8.GetBytes(addr.ToString()))) % OldBucketsPerGroup;
        return (int)(HashToUInt64(Concat(_keyBytes, Encoding.UTF8.GetBytes(GroupKey(addr)), BigEndian(first))) % OldBucketCount);
    }

    public string GroupKey(NetAddress addr) =>
        addr.Ip is { } ip ? IpRanges.GroupKey(ip, RoutabilityStrict) : "unroutable";

    /// <summary>Puts an entry read from a file back where the file says it was.</summary>
    internal void Restore(KnownAddress ka)
    {
        var buckets = ka.IsNew ? _newBuckets : _oldBuckets;
        foreach (var index in ka.BucketList)
            buckets[index].Add(ka);
        _lookup[ka.Id] = ka;
        if (ka.IsNew)
            NewCount++;
        else
            OldCount++;
    }

    private List<NetAddress> RandomPick(BucketType type, int count, Random random)
    {
        // An address can sit in several new buckets; it is counted once.
        var candidates = _lookup.Values.Where(ka => ka.BucketType == type).Select(ka => ka.Addr).ToArray();
        random.Shuffle(candidates);
        return candidates.Take(Math.Max(0, count)).ToList();
    }

    private void AddToNewBucket(KnownAddress ka, int index, DateTime now)
    {
        var bucket = _newBuckets[index];
        if (ka.BucketList.Contains(index))
            return;
        if (bucket.Count >= NewBucketSize)
            ExpireNew(index, now);
        bucket.Add(ka);
        ka.BucketList.Add(index);
        if (ka.BucketList.Count == 1)
            NewCount++;
        _lookup[ka.Id] = ka;
    }

    /// <summary>
    /// Makes room in a full new bucket, as Go's expireNew: one bad entry if there is one, else the one tried longest
    /// ago. This is the only place where bad addresses leave the book.
    /// </summary>
    private void ExpireNew(int index, DateTime now)
    {
        var bucket = _newBuckets[index];
        var victim = bucket.FirstOrDefault(ka => IsBad(ka, now)) ?? Oldest(bucket);
        RemoveFromBucket(victim, BucketType.New, index);
    }

    private void MoveToOld(KnownAddress ka, DateTime now)
    {
        RemoveFromAllBuckets(ka);
        ka.BucketType = BucketType.Old;
        var index = OldBucketIndex(ka.Addr);
        var bucket = _oldBuckets[index];
        if (bucket.Count >= OldBucketSize)
        {
            // A full old bucket hands its stalest entry back to the new buckets rather than forgetting it.
            var oldest = Oldest(bucket);
            RemoveFromBucket(oldest, BucketType.Old, index);
            oldest.BucketType = BucketType.New;
            AddToNewBucket(oldest, NewBucketIndex(oldest.Addr, oldest.Src), now);
        }
        bucket.Add(ka);
        ka.BucketList.Add(index);
        OldCount++;
        _lookup[ka.Id] = ka;
    }

    private void RemoveFromBucket(KnownAddress ka, BucketType type, int index)
    {
        var buckets = type == BucketType.New ? _newBuckets : _oldBuckets;
        if (!buckets[index].Remove(ka))
            return;
        ka.BucketList.Remove(index);
        if (ka.BucketList.Count == 0)
        {
            if (type == BucketType.New)
                NewCount--;
            else
                OldCount--;
            _lookup.Remove(ka.Id);
        }
    }

    private void RemoveFromAllBuckets(KnownAddress ka)
    {
        foreach (var index in ka.BucketList.ToList())
            RemoveFromBucket(ka, ka.BucketType, index);
        // Whatever the bookkeeping, an entry with no bucket is no longer in the book.
        _lookup.Remove(ka.Id);
    }

    private static KnownAddress Oldest(List<KnownAddress> bucket)
    {
        var oldest = bucket[0];
        foreach (var ka in bucket)
            if (ka.LastAttempt < oldest.LastAttempt)
                oldest = ka;
        return oldest;
    }

    private static ulong HashToUInt64(byte[] data)
    {
        // Double SHA-256 as Bitcoin's addrman; only the first 8 bytes are used.
        var once = SHA256.HashData(data);
        var twice = SHA256.HashData(once);
        return BinaryPrimitives.ReadUInt64BigEndian(twice);
    }

    private static byte[] BigEndian(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        var offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(result, offset);
            offset += part.Length;
        }
        return result;
    }

    private static List<KnownAddress>[] NewBuckets() => Enumerable.Range(0, NewBucketCount).Select(_ => new List<KnownAddress>()).ToArray();

    private static List<KnownAddress>[] OldBuckets() => Enumerable.Range(0, OldBucketCount).Select(_ => new List<KnownAddress>()).ToArray();
}
