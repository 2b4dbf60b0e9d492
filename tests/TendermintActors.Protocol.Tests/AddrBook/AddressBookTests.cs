using TendermintActors.Protocol.AddrBook;
using static TendermintActors.Protocol.Tests.AddrBook.AddrBookTestKit;

namespace TendermintActors.Protocol.Tests.AddrBook;

public sealed class AddressBookTests
{
    [Fact]
    public void Placement_must_be_the_same_for_the_same_key()
    {
        var addr = Addr("8.8.4.4");
        var src = Addr("9.9.9.9");
        var first = NewBook(seed: 1);
        var second = NewBook(seed: 99);
        Assert.IsType<AddResult.Added>(first.AddAddress(addr, src, T0));
        Assert.IsType<AddResult.Added>(second.AddAddress(addr, src, T0));
        Assert.Equal(first.Get(addr.Id)!.Buckets, second.Get(addr.Id)!.Buckets);
        Assert.Equal(first.NewBucketIndex(addr, src), second.NewBucketIndex(addr, src));
        Assert.Equal(first.OldBucketIndex(addr), second.OldBucketIndex(addr));

        // A different key scatters addresses differently (over many addresses some must differ).
        var other = new AddressBook("fedcba9876543210fedcba98", true, new Random(1));
        var differs = Enumerable.Range(0, 50).Select(i => Addr($"30.{i}.1.1"))
            .Count(a => other.NewBucketIndex(a, src) != first.NewBucketIndex(a, src));
        Assert.True(differs > 0);
    }

    [Fact]
    public void One_source_must_not_spread_over_more_than_its_share_of_new_buckets()
    {
        var book = NewBook();
        var src = Addr("9.9.9.9");
        for (var i = 0; i < 1000; i++)
            Assert.IsType<AddResult.Added>(book.AddAddress(Addr($"{20 + i / 200}.{i % 200}.1.1"), src, T0));
        var buckets = book.KnownAddresses.SelectMany(ka => ka.Buckets).Distinct().Count();
        Assert.InRange(buckets, 2, AddressBook.NewBucketsPerGroup);
        Assert.True(book.Size <= AddressBook.NewBucketsPerGroup * AddressBook.NewBucketSize);
    }

    [Fact]
    public void A_full_new_bucket_must_evict_the_address_tried_longest_ago()
    {
        var book = NewBook();
        var src = Addr("9.9.9.9");
        // Same address group and same source group: always the same bucket.
        var addrs = Enumerable.Range(0, AddressBook.NewBucketSize + 1).Select(i => Addr($"1.2.{i}.1")).ToList();
        for (var i = 0; i < AddressBook.NewBucketSize; i++)
            book.AddAddress(addrs[i], src, T0.AddSeconds(i));
        var index = book.Get(addrs[0].Id)!.Buckets.Single();
        Assert.Equal(AddressBook.NewBucketSize, book.Bucket(BucketType.New, index).Count);

        book.AddAddress(addrs[^1], src, T0.AddSeconds(100));

        Assert.Equal(AddressBook.NewBucketSize, book.Size);
        Assert.False(book.HasAddress(addrs[0]));
        Assert.True(book.HasAddress(addrs[1]));
        Assert.True(book.HasAddress(addrs[^1]));
    }

    [Fact]
    public void A_full_new_bucket_must_evict_a_bad_address_first()
    {
        var book = NewBook();
        var src = Addr("9.9.9.9");
        var addrs = Enumerable.Range(0, AddressBook.NewBucketSize + 1).Select(i => Addr($"1.2.{i}.1")).ToList();
        for (var i = 0; i < AddressBook.NewBucketSize; i++)
            book.AddAddress(addrs[i], src, T0.AddSeconds(i));
        for (var k = 0; k < AddressBook.NumRetries; k++)
            book.MarkAttempt(addrs[30], T0.AddMinutes(10));
        var now = T0.AddHours(2);
        Assert.True(AddressBook.IsBad(book.Get(addrs[30].Id)!, now));

        book.AddAddress(addrs[^1], src, now);

        Assert.False(book.HasAddress(addrs[30]));
        Assert.True(book.HasAddress(addrs[0]));
    }

    [Fact]
    public void A_known_address_must_sit_in_at_most_four_new_buckets()
    {
        var book = NewBook();
        var addr = Addr("8.8.8.8");
        Assert.IsType<AddResult.Added>(book.AddAddress(addr, Addr("9.9.9.9"), T0));
        for (var i = 0; i < 500; i++)
            Assert.IsType<AddResult.AlreadyKnown>(book.AddAddress(addr, Addr($"{40 + i / 200}.{i % 200}.1.1"), T0));
        var buckets = book.Get(addr.Id)!.Buckets;
        Assert.InRange(buckets.Count, 2, AddressBook.MaxNewBucketsPerAddress);
        Assert.Equal(1, book.Size);
        Assert.Equal(1, book.NewCount);
        Assert.All(buckets, b => Assert.Contains(book.Get(addr.Id)!, book.Bucket(BucketType.New, b)));
    }

    [Fact]
    public void MarkGood_must_move_the_address_to_its_old_bucket()
    {
        var book = NewBook();
        var addr = Addr("8.8.8.8");
        book.AddAddress(addr, Addr("9.9.9.9"), T0);
        book.MarkAttempt(addr, T0.AddSeconds(1));
        Assert.Equal(1, book.Get(addr.Id)!.Attempts);

        book.MarkGood(addr.Id, T0.AddSeconds(2));

        var ka = book.Get(addr.Id)!;
        Assert.True(book.IsGood(addr));
        Assert.Equal(BucketType.Old, ka.BucketType);
        Assert.Equal([book.OldBucketIndex(addr)], ka.Buckets);
        Assert.Equal(0, ka.Attempts);
        Assert.Equal(T0.AddSeconds(2), ka.LastSuccess);
        Assert.Equal((0, 1, 1), (book.NewCount, book.OldCount, book.Size));
        // A good address is not re-placed by gossip.
        Assert.IsType<AddResult.AlreadyKnown>(book.AddAddress(addr, Addr("7.7.7.7"), T0));
        Assert.Equal(BucketType.Old, book.Get(addr.Id)!.BucketType);
    }

    [Fact]
    public void A_full_old_bucket_must_move_its_oldest_back_to_a_new_bucket()
    {
        var book = NewBook();
        // One /16 covers only 4 old buckets (256 places); 400 good addresses from it must overflow them.
        var addrs = new List<TendermintActors.Protocol.Identity.NetAddress>();
        for (var s = 0; s < 10; s++)
        {
            var src = Addr($"{50 + s}.1.1.1");
            for (var i = 0; i < 40; i++)
            {
                var a = Addr($"1.2.{s * 20 + i / 2}.{i % 2 + 1}");
                Assert.IsType<AddResult.Added>(book.AddAddress(a, src, T0));
                addrs.Add(a);
            }
        }
        Assert.Equal(400, book.Size);
        for (var i = 0; i < addrs.Count; i++)
            book.MarkGood(addrs[i].Id, T0.AddSeconds(i));

        Assert.Equal(400, book.Size);
        Assert.InRange(book.OldCount, 1, AddressBook.OldBucketsPerGroup * AddressBook.OldBucketSize);
        Assert.Equal(400 - book.OldCount, book.NewCount);
        for (var b = 0; b < AddressBook.OldBucketCount; b++)
            Assert.True(book.Bucket(BucketType.Old, b).Count <= AddressBook.OldBucketSize);
        // The last one marked good is in an old bucket; the first ones were pushed back to new.
        Assert.True(book.IsGood(addrs[^1]));
        Assert.False(book.IsGood(addrs[0]));
        Assert.True(book.HasAddress(addrs[0]));
    }

    [Fact]
    public void MarkBad_must_remove_and_ban_until_the_ban_expires_and_reinstate_after()
    {
        var book = NewBook();
        var addr = Addr("8.8.8.8");
        var src = Addr("9.9.9.9");
        book.AddAddress(addr, src, T0);

        book.MarkBad(addr, TimeSpan.FromHours(1), T0);

        Assert.False(book.HasAddress(addr));
        Assert.Equal(0, book.Size);
        Assert.True(book.IsBanned(addr, T0.AddMinutes(30)));
        Assert.IsType<AddResult.Refused>(book.AddAddress(addr, src, T0.AddMinutes(30)));
        Assert.Empty(book.ReinstateBadPeers(T0.AddMinutes(59)));
        Assert.False(book.HasAddress(addr));

        Assert.Equal([addr], book.ReinstateBadPeers(T0.AddMinutes(61)));

        Assert.True(book.HasAddress(addr));
        Assert.False(book.IsBanned(addr, T0.AddMinutes(61)));
        Assert.Equal(BucketType.New, book.Get(addr.Id)!.BucketType);
    }

    [Fact]
    public void A_good_address_marked_bad_must_come_back_as_new()
    {
        var book = NewBook();
        var addr = Addr("8.8.8.8");
        book.AddAddress(addr, Addr("9.9.9.9"), T0);
        book.MarkGood(addr.Id, T0);
        book.MarkBad(addr, TimeSpan.FromMinutes(5), T0);
        Assert.Equal((0, 0), (book.NewCount, book.OldCount));

        book.ReinstateBadPeers(T0.AddMinutes(6));

        Assert.Equal((1, 0), (book.NewCount, book.OldCount));
        Assert.False(book.IsGood(addr));
    }

    [Fact]
    public void An_expired_ban_must_not_refuse_the_address()
    {
        var book = NewBook();
        var addr = Addr("8.8.8.8");
        book.AddAddress(addr, addr, T0);
        book.MarkBad(addr, TimeSpan.FromMinutes(5), T0);
        Assert.IsType<AddResult.Added>(book.AddAddress(addr, addr, T0.AddMinutes(6)));
        Assert.Empty(book.ReinstateBadPeers(T0.AddMinutes(7)));
        Assert.Equal(1, book.Size);
    }

    [Fact]
    public void Remove_must_forget_the_address()
    {
        var book = NewBook();
        var addr = Addr("8.8.8.8");
        book.AddAddress(addr, addr, T0);
        book.RemoveAddress(addr);
        Assert.False(book.HasAddress(addr));
        Assert.Equal((0, 0, 0), (book.Size, book.NewCount, book.OldCount));
        Assert.All(Enumerable.Range(0, AddressBook.NewBucketCount), b => Assert.Empty(book.Bucket(BucketType.New, b)));
    }

    [Fact]
    public void IsBad_must_follow_the_three_rules()
    {
        var book = NewBook();
        KnownAddress Fresh()
        {
            var a = Addr("8.8.8.8");
            book.AddAddress(a, a, T0);
            return book.Get(a.Id)!;
        }
        var now = T0.AddDays(1);

        var untried = Fresh();
        Assert.False(AddressBook.IsBad(untried, now));
        Assert.True(AddressBook.IsBad(untried, T0.AddDays(31)));

        var neverSucceeded = Fresh();
        for (var i = 0; i < 3; i++)
            book.MarkAttempt(neverSucceeded.Addr, T0);
        Assert.True(AddressBook.IsBad(neverSucceeded, now));
        // Tried in the last minute: not judged yet.
        Assert.False(AddressBook.IsBad(neverSucceeded, T0.AddSeconds(30)));

        var failingNew = Fresh();
        failingNew.LastSuccess = T0.AddDays(-10);
        for (var i = 0; i < 9; i++)
            book.MarkAttempt(failingNew.Addr, T0);
        Assert.False(AddressBook.IsBad(failingNew, now));
        book.MarkAttempt(failingNew.Addr, T0);
        Assert.True(AddressBook.IsBad(failingNew, now));

        var good = Fresh();
        book.MarkGood(good.Addr.Id, T0);
        Assert.False(AddressBook.IsBad(good, T0.AddDays(100)));
    }

    [Fact]
    public void Month_old_new_addresses_must_stay_until_their_bucket_overflows()
    {
        // A book saved 40 days ago (a Go node's, or ours offline for a month): every new address is "bad" by age.
        var book = NewBook();
        var src = Addr("9.9.9.9");
        var addrs = Enumerable.Range(0, AddressBook.NewBucketSize + 1).Select(i => Addr($"1.2.{i}.1")).ToList();
        for (var i = 0; i < AddressBook.NewBucketSize; i++)
            book.AddAddress(addrs[i], src, T0.AddSeconds(i));
        var now = T0.AddDays(40);
        Assert.All(book.KnownAddresses, ka => Assert.True(AddressBook.IsBad(ka, now)));
        var reloaded = AddrBookJson.Deserialize(AddrBookJson.Serialize(book), routabilityStrict: true, new Random(2));

        // Adding elsewhere, marking attempts and saving again drop nothing.
        var elsewhere = Addr("77.7.1.1");
        reloaded.AddAddress(elsewhere, elsewhere, now);
        reloaded.MarkAttempt(addrs[5], now);
        reloaded = AddrBookJson.Deserialize(AddrBookJson.Serialize(reloaded), routabilityStrict: true, new Random(3));
        Assert.Equal(AddressBook.NewBucketSize + 1, reloaded.Size);

        // Only an overflow of their bucket makes room, and by one address: a bad one, not the one just tried.
        reloaded.AddAddress(addrs[^1], src, now);
        Assert.Equal(AddressBook.NewBucketSize + 1, reloaded.Size);
        Assert.True(reloaded.HasAddress(addrs[^1]));
        Assert.True(reloaded.HasAddress(addrs[5]));
        Assert.Equal(AddressBook.NewBucketSize - 1, addrs.Take(AddressBook.NewBucketSize).Count(reloaded.HasAddress));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(10, 10)]
    [InlineData(32, 32)]
    [InlineData(100, 32)]
    [InlineData(200, 46)]
    [InlineData(1000, 230)]
    [InlineData(2000, 250)]
    public void Selection_size_must_be_23_percent_with_a_floor_of_32_and_a_cap_of_250(int bookSize, int expected) =>
        Assert.Equal(expected, AddressBook.SelectionSize(bookSize));

    [Theory]
    [InlineData(10, 10)]
    [InlineData(100, 32)]
    [InlineData(1000, 230)]
    [InlineData(2000, 250)]
    public void GetSelection_must_return_distinct_addresses_of_the_book(int n, int expected)
    {
        var book = BookOf(n);
        Assert.Equal(n, book.Size);
        var selection = book.GetSelection(new Random(7));
        Assert.Equal(expected, selection.Count);
        Assert.Equal(expected, selection.Select(a => a.Id).Distinct().Count());
        Assert.All(selection, a => Assert.True(book.HasAddress(a)));
        // Random order: another seed gives another selection.
        Assert.NotEqual(selection, book.GetSelection(new Random(8)));
    }

    [Fact]
    public void GetSelectionWithBias_must_start_with_the_share_of_new_addresses()
    {
        var book = BookOf(100);
        var good = book.KnownAddresses.Take(50).Select(ka => ka.Id).ToList();
        foreach (var id in good)
            book.MarkGood(id, T0);
        Assert.Equal((50, 50), (book.NewCount, book.OldCount));

        var selection = book.GetSelectionWithBias(30, new Random(3));

        Assert.Equal(32, selection.Count);
        Assert.Equal(32, selection.Select(a => a.Id).Distinct().Count());
        Assert.All(selection.Take(10), a => Assert.False(book.IsGood(a)));
        Assert.All(selection.Skip(10), a => Assert.True(book.IsGood(a)));
    }

    [Fact]
    public void GetSelectionWithBias_must_fill_with_new_addresses_when_old_ones_are_too_few()
    {
        var book = BookOf(100);
        book.MarkGood(book.KnownAddresses.First().Id, T0);
        var selection = book.GetSelectionWithBias(0, new Random(3));
        Assert.Equal(32, selection.Count);
        Assert.Equal(1, selection.Count(book.IsGood));
    }

    [Fact]
    public void PickAddress_must_follow_the_bias()
    {
        var book = NewBook();
        Assert.Null(book.PickAddress(50, new Random(1)));
        var fresh = Addr("8.8.8.8");
        var good = Addr("8.9.8.8");
        book.AddAddress(fresh, fresh, T0);
        book.AddAddress(good, good, T0);
        book.MarkGood(good.Id, T0);
        var random = new Random(5);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(fresh, book.PickAddress(100, random));
            Assert.Equal(good, book.PickAddress(0, random));
        }
        var picks = Enumerable.Range(0, 200).Select(_ => book.PickAddress(50, random)).ToList();
        Assert.Contains(fresh, picks);
        Assert.Contains(good, picks);
    }

    [Fact]
    public void PickAddress_must_fall_back_to_the_other_kind_when_one_is_empty()
    {
        var book = NewBook();
        var good = Addr("8.9.8.8");
        book.AddAddress(good, good, T0);
        book.MarkGood(good.Id, T0);
        Assert.Equal(good, book.PickAddress(100, new Random(1)));
    }

    [Fact]
    public void NeedMoreAddrs_must_be_true_below_1000()
    {
        Assert.True(BookOf(999).NeedMoreAddrs());
        Assert.False(BookOf(1000).NeedMoreAddrs());
    }
}
