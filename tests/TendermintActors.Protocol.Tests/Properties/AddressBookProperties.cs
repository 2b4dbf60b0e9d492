using System.Net;
using CsCheck;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Tests.Properties;

/// <summary>
/// The address book's bucket invariants under runs of operations chosen by CsCheck. Addresses come from a few /16
/// groups and a few sources, so that buckets fill up and the eviction paths run.
/// </summary>
public sealed class AddressBookProperties
{
    private abstract record Op;
    private sealed record Add(int Addr, int Src) : Op;
    private sealed record Good(int Addr) : Op;
    private sealed record Attempt(int Addr) : Op;
    private sealed record Bad(int Addr) : Op;
    private sealed record Remove(int Addr) : Op;
    private sealed record Reinstate : Op;

    private const int PoolSize = 400;

    private static readonly NetAddress[] Pool = Enumerable.Range(0, PoolSize).Select(i =>
    {
        var id = new byte[NodeId.ByteLength];
        BitConverter.GetBytes(i + 1).CopyTo(id, 0);
        id[19] = 0xbb;
        // Three /16 groups; within one, addresses differ in their last two bytes.
        byte[][] groups = [[1, 2], [5, 6], [9, 10]];
        var g = groups[i % 3];
        return new NetAddress(NodeId.Parse(Convert.ToHexStringLower(id)), new IPAddress([g[0], g[1], (byte)(i / 256), (byte)(i % 256)]), 26656);
    }).ToArray();

    private static readonly NetAddress[] Sources =
        [.. new[] { "20.1.1.1", "30.1.1.1", "40.1.1.1" }.Select((ip, i) => new NetAddress(Pool[i].Id, IPAddress.Parse(ip), 26656))];

    private static readonly Gen<Op> Ops = Gen.Frequency(
        (10, Gen.Select(Gen.Int[0, PoolSize - 1], Gen.Int[0, Sources.Length - 1]).Select((a, s) => (Op)new Add(a, s))),
        (4, Gen.Int[0, PoolSize - 1].Select(a => (Op)new Good(a))),
        (2, Gen.Int[0, PoolSize - 1].Select(a => (Op)new Attempt(a))),
        (1, Gen.Int[0, PoolSize - 1].Select(a => (Op)new Bad(a))),
        (1, Gen.Int[0, PoolSize - 1].Select(a => (Op)new Remove(a))),
        (1, Gen.Const((Op)new Reinstate())));

    [Fact]
    public void Buckets_stay_bounded_and_every_address_is_where_its_entry_says()
    {
        Gen.Select(Ops.Array[0, 600], Gen.Int, Gen.Bool).Sample((ops, seed, strict) =>
        {
            var book = new AddressBook("0123456789abcdef01234567", strict, new Random(seed));
            var now = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            for (var i = 0; i < ops.Length; i++)
            {
                now += TimeSpan.FromMinutes(1);
                switch (ops[i])
                {
                    case Add(var a, var s):
                        var wasBanned = book.IsBanned(Pool[a], now);
                        var result = book.AddAddress(Pool[a], Sources[s], now);
                        if (wasBanned) Assert.IsType<AddResult.Refused>(result);
                        break;
                    case Good(var a):
                        book.MarkGood(Pool[a].Id, now);
                        if (book.Get(Pool[a].Id) is { } ka) Assert.True(ka.IsOld);
                        break;
                    case Attempt(var a):
                        book.MarkAttempt(Pool[a], now);
                        break;
                    case Bad(var a):
                        var wasKnown = book.HasAddress(Pool[a]);
                        book.MarkBad(Pool[a], TimeSpan.FromMinutes(30), now);
                        Assert.False(book.HasAddress(Pool[a]));
                        if (wasKnown) Assert.True(book.IsBanned(Pool[a], now));
                        break;
                    case Remove(var a):
                        book.RemoveAddress(Pool[a]);
                        Assert.False(book.HasAddress(Pool[a]));
                        break;
                    case Reinstate:
                        now += TimeSpan.FromMinutes(31);
                        foreach (var back in book.ReinstateBadPeers(now))
                            Assert.True(book.HasAddress(back));
                        break;
                }
                if (i % 25 == 0 || i == ops.Length - 1)
                    CheckInvariants(book);
            }
        }, iter: 60);
    }

    private static void CheckInvariants(AddressBook book)
    {
        var newBuckets = new Dictionary<NodeId, List<int>>();
        var oldBuckets = new Dictionary<NodeId, List<int>>();
        foreach (var (type, count, size, where) in new[]
                 {
                     (BucketType.New, AddressBook.NewBucketCount, AddressBook.NewBucketSize, newBuckets),
                     (BucketType.Old, AddressBook.OldBucketCount, AddressBook.OldBucketSize, oldBuckets),
                 })
        {
            for (var b = 0; b < count; b++)
            {
                var bucket = book.Bucket(type, b);
                Assert.True(bucket.Count <= size, $"{type} bucket {b} holds {bucket.Count} > {size}");
                Assert.Equal(bucket.Count, bucket.Select(k => k.Id).Distinct().Count());
                foreach (var ka in bucket)
                {
                    Assert.Equal(type, ka.BucketType);
                    Assert.Contains(b, ka.Buckets);
                    Assert.Same(ka, book.Get(ka.Id));
                    (where.TryGetValue(ka.Id, out var list) ? list : where[ka.Id] = []).Add(b);
                }
            }
        }
        Assert.Empty(newBuckets.Keys.Intersect(oldBuckets.Keys));
        foreach (var (id, buckets) in newBuckets)
        {
            Assert.InRange(buckets.Count, 1, AddressBook.MaxNewBucketsPerAddress);
            Assert.Equal(buckets.Order(), book.Get(id)!.Buckets.Order());
        }
        foreach (var (id, buckets) in oldBuckets)
            Assert.Equal(buckets, book.Get(id)!.Buckets);
        Assert.Equal(newBuckets.Count + oldBuckets.Count, book.Size);
        Assert.Equal(newBuckets.Count, book.NewCount);
    }
}
