using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Protocol.AddrBook;
using Xunit.Abstractions;
using Book = TendermintActors.Pex.AddrBook;

namespace TendermintActors.Tests.AddrBook;

public sealed class AddrBookSaveTimerSpecs(ITestOutputHelper output)
    : TestKit(ConfigurationFactory.ParseString("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\""), output: output),
        IDisposable
{
    private readonly TempDir _dir = new();

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    [Fact]
    public void AddrBook_must_save_its_file_every_save_interval()
    {
        var file = _dir.File("addrbook.json");
        var book = Sys.ActorOf(Book.Props(new Book.Settings(file) { RandomSeed = 3 }));
        book.Tell(new Book.AddAddress(Addrs.Routable(1), Addrs.Source(1)));
        ExpectMsg<AddResult.Added>();

        Scheduler.Advance(TimeSpan.FromMinutes(1));
        book.Tell(Book.Size.Instance);
        ExpectMsg(1);
        Assert.False(File.Exists(file));

        Scheduler.Advance(TimeSpan.FromMinutes(1));
        // The tick was queued by Advance ahead of this request, so once it is answered the save is done.
        book.Tell(Book.Size.Instance);
        ExpectMsg(1);
        Assert.Equal(1, Read(file).Size);

        book.Tell(new Book.AddAddress(Addrs.Routable(2), Addrs.Source(2)));
        ExpectMsg<AddResult.Added>();
        Scheduler.Advance(TimeSpan.FromMinutes(2));
        book.Tell(Book.Size.Instance);
        ExpectMsg(2);
        Assert.Equal(2, Read(file).Size);
    }

    [Fact]
    public void AddrBook_must_keep_month_old_new_addresses_through_load_periodic_save_and_load()
    {
        // A book last saved 40 days ago: never tried since, every new address is "bad" by age, and Go keeps them all
        // until their bucket overflows; so must we, whatever the saves in between.
        var saved = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var now = saved.AddDays(40);
        var file = _dir.File("addrbook.json");
        var old = AddressBook.CreateNew(routabilityStrict: true, new Random(5));
        for (var n = 1; n <= 20; n++)
            Assert.IsType<AddResult.Added>(old.AddAddress(Addrs.Routable(n), Addrs.Source(n % 3), saved));
        for (var attempt = 0; attempt < AddressBook.NumRetries; attempt++)
            old.MarkAttempt(Addrs.Routable(1), saved); // never connected after three tries: bad on two counts
        File.WriteAllText(file, AddrBookJson.Serialize(old));
        Assert.All(old.KnownAddresses, ka => Assert.True(AddressBook.IsBad(ka, now)));

        var book = Sys.ActorOf(Book.Props(new Book.Settings(file) { RandomSeed = 3, Clock = () => now }));
        book.Tell(new Book.AddAddress(Addrs.Routable(99), Addrs.Source(99)));
        ExpectMsg<AddResult.Added>();
        Scheduler.Advance(TimeSpan.FromMinutes(2));
        book.Tell(Book.GetAddresses.Instance);
        Assert.Equal(21, ExpectMsg<Book.Addresses>().Entries.Count);
        Assert.Equal(21, Read(file).Size); // the periodic save ran before GetAddresses was handled
        Watch(book);
        Sys.Stop(book);
        ExpectTerminated(book);

        var kept = Read(file).KnownAddresses.Select(ka => ka.Addr).ToHashSet();
        Assert.Equal(21, kept.Count);
        Assert.Superset(old.KnownAddresses.Select(ka => ka.Addr).ToHashSet(), kept);
    }

    private static AddressBook Read(string file) =>
        AddrBookJson.Deserialize(File.ReadAllText(file), routabilityStrict: true, new Random(1));

    void IDisposable.Dispose()
    {
        Shutdown();
        _dir.Dispose();
    }
}
