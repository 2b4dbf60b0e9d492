using Akka.Actor;
using Akka.TestKit.Xunit2;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;
using Xunit.Abstractions;
using Book = TendermintActors.Pex.AddrBook;

namespace TendermintActors.Tests.AddrBook;

public sealed class AddrBookSpecs(ITestOutputHelper output) : TestKit(output: output), IDisposable
{
    private static readonly DateTime Start = new(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private readonly TempDir _dir = new();
    private readonly ManualClock _clock = new(Start);

    private string BookFile => _dir.File("addrbook.json");

    private Book.Settings Settings() => new(BookFile)
    {
        SaveInterval = TimeSpan.Zero,
        Clock = () => _clock.Now,
        RandomSeed = 7,
    };

    private IActorRef StartBook(Book.Settings? settings = null) => Sys.ActorOf(Book.Props(settings ?? Settings()));

    private void StopBook(IActorRef book)
    {
        Watch(book);
        Sys.Stop(book);
        ExpectTerminated(book);
        Unwatch(book);
    }

    private IReadOnlyList<Book.AddressInfo> Entries(IActorRef book)
    {
        book.Tell(Book.GetAddresses.Instance);
        return ExpectMsg<Book.Addresses>().Entries.OrderBy(e => e.Addr.Id.Hex).ToList();
    }

    private int SizeOf(IActorRef book)
    {
        book.Tell(Book.Size.Instance);
        return ExpectMsg<int>();
    }

    private void Add(IActorRef book, NetAddress addr, NetAddress src)
    {
        book.Tell(new Book.AddAddress(addr, src));
        ExpectMsg<AddResult.Added>();
    }

    [Fact]
    public void AddrBook_must_come_back_from_its_file_with_the_same_addresses_and_buckets()
    {
        var book = StartBook();
        for (var n = 1; n <= 6; n++)
            Add(book, Addrs.Routable(n), Addrs.Source(n % 2));
        book.Tell(new Book.MarkAttempt(Addrs.Routable(2)));
        book.Tell(new Book.MarkGood(Addrs.Routable(3).Id));
        var before = Entries(book);
        book.Tell(Book.Save.Instance);
        ExpectMsg<Book.Saved>(s => s.Size == 6 && s.FilePath == BookFile);
        StopBook(book);

        var again = StartBook();
        var after = Entries(again);

        Assert.Equal(6, after.Count);
        Assert.Equal(before.Select(Describe), after.Select(Describe));
        Assert.Contains(after, e => e.Addr == Addrs.Routable(3) && e.BucketType == BucketType.Old);
        Assert.Contains(after, e => e.Addr == Addrs.Routable(2) && e.Attempts == 1);
    }

    private static string Describe(Book.AddressInfo e) =>
        $"{e.Addr} from {e.Src} {e.BucketType} [{string.Join(",", e.Buckets)}] attempts={e.Attempts} " +
        // Ticks, not "O": the zero time comes back from the file as UTC where the model holds it unspecified.
        $"{e.LastAttempt.Ticks} {e.LastSuccess.Ticks} {e.LastBanTime.Ticks}";

    [Fact]
    public void AddrBook_must_save_its_file_when_stopped()
    {
        var book = StartBook();
        Add(book, Addrs.Routable(1), Addrs.Source(1));
        Assert.False(File.Exists(BookFile));

        StopBook(book);

        Assert.True(File.Exists(BookFile));
        var saved = AddrBookJson.Deserialize(File.ReadAllText(BookFile), routabilityStrict: true, new Random(1));
        Assert.Equal([Addrs.Routable(1)], saved.KnownAddresses.Select(ka => ka.Addr));
        Assert.Equal([BookFile], Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void AddrBook_must_set_a_corrupt_file_aside_and_start_empty()
    {
        const string garbage = "{\"key\": \"abc\", \"addrs\": [ {\"addr\": ";
        File.WriteAllText(BookFile, garbage);

        IActorRef book = ActorRefs.Nobody;
        EventFilter.Warning(contains: "corrupt").ExpectOne(() =>
        {
            book = StartBook();
            Assert.Equal(0, SizeOf(book));
        });

        var kept = _dir.File("addrbook.json.corrupt-20240102T030405Z");
        Assert.True(File.Exists(kept));
        Assert.Equal(garbage, File.ReadAllText(kept));
        Assert.False(File.Exists(BookFile));

        // Still alive and usable, and its next save writes a good file beside the kept copy.
        Add(book, Addrs.Routable(1), Addrs.Source(1));
        book.Tell(Book.Save.Instance);
        ExpectMsg<Book.Saved>(s => s.Size == 1);
        var saved = AddrBookJson.Deserialize(File.ReadAllText(BookFile), routabilityStrict: true, new Random(1));
        Assert.Equal(1, saved.Size);
        Assert.Equal(garbage, File.ReadAllText(kept));
    }

    [Fact]
    public void AddrBook_must_set_aside_a_file_that_is_valid_json_but_not_a_book()
    {
        File.WriteAllText(BookFile, "{\"key\": \"abc\", \"addrs\": [{\"addr\": {\"id\": \"nothex\", \"ip\": \"8.8.8.8\", \"port\": 1}}]}");

        var book = StartBook();

        Assert.Equal(0, SizeOf(book));
        Assert.Single(Directory.GetFiles(_dir.Path, "addrbook.json.corrupt-*"));
    }

    [Fact]
    public void AddrBook_must_read_a_file_written_by_a_go_node()
    {
        // Laid out as Go's json.MarshalIndent writes addrbook.json: tabs, RFC3339Nano times, zero time as year 1.
        var goFile = """
            {
            	"key": "7d2a1c9e4b3f5a6d8e0c1b2a",
            	"addrs": [
            		{
            			"addr": {
            				"id": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
            				"ip": "8.8.4.4",
            				"port": 26656
            			},
            			"src": {
            				"id": "1111111111111111111111111111111111111111",
            				"ip": "1.2.3.4",
            				"port": 26656
            			},
            			"buckets": [
            				12,
            				200
            			],
            			"attempts": 2,
            			"bucket_type": 1,
            			"last_attempt": "2024-05-01T10:11:12.123456789Z",
            			"last_success": "0001-01-01T00:00:00Z",
            			"last_ban_time": "0001-01-01T00:00:00Z"
            		},
            		{
            			"addr": {
            				"id": "ffeeddccbbaa99887766554433221100ffeeddcc",
            				"ip": "2a01:4f8::1",
            				"port": 26656
            			},
            			"src": {
            				"id": "1111111111111111111111111111111111111111",
            				"ip": "1.2.3.4",
            				"port": 26656
            			},
            			"buckets": [
            				5
            			],
            			"attempts": 0,
            			"bucket_type": 2,
            			"last_attempt": "2024-05-02T00:00:00+02:00",
            			"last_success": "2024-05-02T00:00:00+02:00",
            			"last_ban_time": "0001-01-01T00:00:00Z"
            		}
            	]
            }
            """;
        File.WriteAllText(BookFile, goFile);

        var book = StartBook();
        var entries = Entries(book);

        Assert.Equal(2, entries.Count);
        var fresh = entries.Single(e => e.Addr.Id == NodeId.Parse("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"));
        Assert.Equal("8.8.4.4", fresh.Addr.Host);
        Assert.Equal(BucketType.New, fresh.BucketType);
        Assert.Equal([12, 200], fresh.Buckets);
        Assert.Equal(2, fresh.Attempts);
        Assert.Equal(new DateTime(2024, 5, 1, 10, 11, 12, DateTimeKind.Utc).AddTicks(1234567), fresh.LastAttempt);
        Assert.Equal(DateTime.MinValue, fresh.LastSuccess);
        var good = entries.Single(e => e.BucketType == BucketType.Old);
        Assert.Equal("2a01:4f8::1", good.Addr.Host);
        Assert.Equal([5], good.Buckets);
        Assert.Equal(new DateTime(2024, 5, 1, 22, 0, 0, DateTimeKind.Utc), good.LastSuccess);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.corrupt-*"));

        // Our save keeps Go's key, so the bucket placement stays valid for a Go node reading it back.
        book.Tell(Book.Save.Instance);
        ExpectMsg<Book.Saved>();
        Assert.Contains("\"key\": \"7d2a1c9e4b3f5a6d8e0c1b2a\"", File.ReadAllText(BookFile));
    }

    [Fact]
    public void AddrBook_must_ban_a_bad_address_and_reinstate_it_when_the_ban_ends()
    {
        var book = StartBook();
        var bad = Addrs.Routable(1);
        Add(book, bad, Addrs.Source(1));

        book.Tell(new Book.MarkBad(bad, TimeSpan.FromHours(1)));
        Assert.Equal(0, SizeOf(book));
        book.Tell(new Book.AddAddress(bad, Addrs.Source(2)));
        ExpectMsg<AddResult.Refused>(r => r.Reason.Contains("banned"));

        _clock.Advance(TimeSpan.FromMinutes(59));
        book.Tell(Book.ReinstateBadPeers.Instance);
        Assert.Empty(ExpectMsg<Book.Reinstated>().Addrs);
        Assert.Equal(0, SizeOf(book));

        _clock.Advance(TimeSpan.FromMinutes(2));
        book.Tell(Book.ReinstateBadPeers.Instance);
        Assert.Equal([bad], ExpectMsg<Book.Reinstated>().Addrs);
        Assert.Equal(1, SizeOf(book));
        book.Tell(new Book.PickAddress(100));
        Assert.Equal(bad, ExpectMsg<Book.Picked>().Addr);
    }

    [Fact]
    public void AddrBook_must_need_more_addresses_until_it_holds_a_thousand()
    {
        var book = StartBook();
        book.Tell(Book.NeedMoreAddrs.Instance);
        Assert.True(ExpectMsg<bool>());

        for (var n = 0; n < 1200; n++)
            book.Tell(new Book.AddAddress(Addrs.Routable(n), Addrs.Source(n)));
        ReceiveN(1200);

        Assert.True(SizeOf(book) >= AddressBook.NeedAddressThreshold);
        book.Tell(Book.NeedMoreAddrs.Instance);
        Assert.False(ExpectMsg<bool>());
    }

    [Fact]
    public void AddrBook_must_refuse_our_own_addresses_and_private_ids()
    {
        var ours = Addrs.Routable(1);
        var hidden = Addrs.Routable(2);
        var book = StartBook(Settings() with { OurAddresses = [ours], PrivateIds = new HashSet<NodeId> { hidden.Id } });

        book.Tell(new Book.AddAddress(ours, Addrs.Source(1)));
        ExpectMsg<AddResult.Refused>(r => r.Reason.Contains("our own"));
        book.Tell(new Book.AddAddress(hidden, Addrs.Source(1)));
        ExpectMsg<AddResult.Refused>(r => r.Reason.Contains("private"));

        var later = Addrs.Routable(3);
        book.Tell(new Book.AddOurAddress(later));
        book.Tell(new Book.AddAddress(later, Addrs.Source(1)));
        ExpectMsg<AddResult.Refused>(r => r.Reason.Contains("our own"));
    }

    [Fact]
    public void AddrBook_must_hand_out_nothing_when_empty()
    {
        var book = StartBook();
        book.Tell(new Book.PickAddress(50));
        Assert.Null(ExpectMsg<Book.Picked>().Addr);
        book.Tell(Book.GetSelection.Instance);
        Assert.Empty(ExpectMsg<Book.Selection>().Addrs);
    }

    [Fact]
    public void AddrBook_must_give_a_selection_of_what_it_holds()
    {
        var book = StartBook();
        for (var n = 1; n <= 10; n++)
            Add(book, Addrs.Routable(n), Addrs.Source(n));
        book.Tell(new Book.MarkGood(Addrs.Routable(1).Id));

        book.Tell(Book.GetSelection.Instance);
        var selection = ExpectMsg<Book.Selection>().Addrs;
        Assert.Equal(10, selection.Count);
        Assert.Equal(10, selection.Distinct().Count());

        book.Tell(new Book.GetSelectionWithBias(30));
        Assert.Contains(Addrs.Routable(1), ExpectMsg<Book.Selection>().Addrs);
    }

    [Fact]
    public void AddrBook_must_answer_a_query_with_its_reply_under_the_query_s_id()
    {
        var book = StartBook();
        Add(book, Addrs.Routable(1), Addrs.Source(1));

        book.Tell(new Book.Query(7, Book.Size.Instance));
        book.Tell(new Book.Query(8, Book.GetSelection.Instance));
        book.Tell(new Book.Query(9, new Book.MarkGood(Addrs.Routable(1).Id))); // no reply, so no answer
        book.Tell(Book.Size.Instance);

        Assert.Equal(new Book.Answer(7, 1), ExpectMsg<Book.Answer>());
        var selection = ExpectMsg<Book.Answer>();
        Assert.Equal(8, selection.Id);
        Assert.Equal([Addrs.Routable(1)], Assert.IsType<Book.Selection>(selection.Reply).Addrs);
        Assert.Equal(1, ExpectMsg<int>()); // a plain command is answered plainly, after a query
    }

    void IDisposable.Dispose()
    {
        Shutdown();
        _dir.Dispose();
    }
}
