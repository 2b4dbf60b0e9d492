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
    public void AddrBook_must_drop_addresses_that_keep_failing_at_each_periodic_save_and_keep_good_ones()
    {
        var now = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var file = _dir.File("addrbook.json");
        var book = Sys.ActorOf(Book.Props(new Book.Settings(file) { RandomSeed = 3, Clock = () => now }));
        foreach (var n in new[] { 1, 2, 3 })
        {
            book.Tell(new Book.AddAddress(Addrs.Routable(n), Addrs.Source(n)));
            ExpectMsg<AddResult.Added>();
        }
        book.Tell(new Book.MarkGood(Addrs.Routable(3).Id));
        for (var attempt = 0; attempt < 3; attempt++)
        {
            book.Tell(new Book.MarkAttempt(Addrs.Routable(1))); // never connected, tried three times
            book.Tell(new Book.MarkAttempt(Addrs.Routable(3))); // good: never dropped
        }
        book.Tell(new Book.MarkAttempt(Addrs.Routable(2))); // tried once: still worth a try
        book.Tell(Book.Size.Instance);
        ExpectMsg(3); // the attempts are recorded at the old time
        now += TimeSpan.FromMinutes(2); // the last attempt a minute back at least

        Scheduler.Advance(TimeSpan.FromMinutes(2));
        book.Tell(Book.GetAddresses.Instance);

        var left = ExpectMsg<Book.Addresses>().Entries.Select(e => e.Addr).OrderBy(a => a.Id.Hex).ToList();
        Assert.Equal([Addrs.Routable(2), Addrs.Routable(3)], left);
        Assert.Equal(2, Read(file).Size);
    }

    private static AddressBook Read(string file) =>
        AddrBookJson.Deserialize(File.ReadAllText(file), routabilityStrict: true, new Random(1));

    void IDisposable.Dispose()
    {
        Shutdown();
        _dir.Dispose();
    }
}
