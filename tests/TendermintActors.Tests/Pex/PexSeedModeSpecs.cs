using Akka.Actor;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using TendermintActors.Switching;
using TendermintActors.Tests.AddrBook;
using Xunit.Abstractions;
using Book = TendermintActors.Pex.AddrBook;

namespace TendermintActors.Tests.Pex;

/// <summary>Seed (crawler) mode, docs/protocol.md §7, and PEX's start checks.</summary>
public sealed class PexSeedModeSpecs(ITestOutputHelper output) : PexSpecBase(output)
{
    private static readonly TimeSpan Crawl = TimeSpan.FromSeconds(30);

    private static PexReactor.Settings Seed => Defaults with { SeedMode = true, CrawlPeriod = Crawl };

    private void FillBook(Akka.Actor.IActorRef book, int count)
    {
        book.Tell(new Book.AddAddresses(Enumerable.Range(1, count).Select(Addrs.Routable).ToList(), Addrs.Source(1)));
        ExpectMsg<Book.AddedAddresses>();
    }

    [Fact]
    public void A_seed_answers_an_inbound_peer_once_then_disconnects_it_gracefully()
    {
        StartPex(Seed, book => FillBook(book, 40));
        Assert.Equal("CrawlRound", AnswerDialState(maxOutbound: 0)); // the first crawl, at once (no seeds of its own)
        ExpectDials(SelectionOf(41));
        var (peer, actor) = NewPeer(outbound: false);
        Add(peer);

        Receive(peer, Request);
        Receive(peer, Request); // the flush and close are under way: not answered again

        var answer = Assert.IsType<PexMessage.Addrs>(ExpectPex(actor));
        Assert.Equal(32, answer.Addresses.Count); // 41 in the book: max(min(32, 41), 23 %)
        var stop = ExpectStopped(actor, graceful: true);
        Assert.Equal("stopped", stop.Code);
        Assert.False(stop.IsError);
        actor.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    private static int SelectionOf(int size) => AddressBookSelection(size);

    private static int AddressBookSelection(int size) => Protocol.AddrBook.AddressBook.SelectionSize(size);

    [Fact]
    public void A_seed_crawls_its_book_every_period_but_not_the_same_address_within_two_minutes()
    {
        StartPex(Seed, book => FillBook(book, 3));

        Assert.Equal("CrawlRound", AnswerDialState(maxOutbound: 0));
        var first = ExpectDials(3);
        Assert.Equal(3, first.Distinct().Count());
        foreach (var addr in first) // none answered
            Pex.Tell(new Switch.ConnectionRejected(addr.Id, addr, new Peers.PeerStopReason("transport/closed", "refused")));
        Settle();

        Advance(Crawl);
        AnswerDialState(maxOutbound: 0);
        SwitchProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // crawled 30 s ago

        Advance(Crawl * 3); // two minutes after the first crawl (and past each address's 2 s backoff)
        while (AnswerDialState(maxOutbound: 0) != "CrawlRound") { }
        // Until the three are dialled again (bounded by the probe's dilated timeout, not by a quiet period).
        var again = new List<NetAddress>();
        while (again.Count < first.Count)
        {
            switch (SwitchProbe.ReceiveOne(Dilated(TimeSpan.FromSeconds(10))))
            {
                case Switch.DialPeers d:
                    again.AddRange(d.Addresses);
                    break;
                case Switch.GetDialState ask:
                    SwitchProbe.Reply(new Switch.DialState([], [], new HashSet<NodeId>(), 0, true, ask.Tag));
                    break;
                case null:
                    Assert.Fail($"only {again.Count} of {first.Count} addresses dialled again");
                    break;
            }
        }
        Assert.Equal(first.OrderBy(a => a.Id.Hex), again.OrderBy(a => a.Id.Hex));
    }

    [Fact]
    public void A_seed_asks_every_peer_it_crawls_for_addresses_and_lets_it_go_once_answered()
    {
        StartPex(Seed, book => FillBook(book, 1500)); // a book that needs no more: crawled peers are asked anyway
        AnswerDialState(maxOutbound: 0);
        SwitchProbe.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m); // the first crawl's dials
        var (crawled, actor) = NewPeer(outbound: true);

        Add(crawled);

        Assert.IsType<PexMessage.Request>(ExpectPex(actor));
        Receive(crawled, AddrsMessage(Addrs.Routable(2000)));
        Assert.Equal("stopped", ExpectStopped(actor, graceful: true).Code);
        AwaitAssert(() => Assert.Contains(BookEntries(), e => e.Addr == Addrs.Routable(2000)));
    }

    [Fact]
    public void A_seed_disconnects_peers_connected_longer_than_the_wait_period_unless_persistent()
    {
        StartPex(Seed with { SeedDisconnectWaitPeriod = TimeSpan.FromMinutes(1) });
        AnswerDialState(maxOutbound: 0);
        var (old, oldActor) = NewPeer(outbound: false);
        var (kept, keptActor) = NewPeer(outbound: false, persistent: true);
        Add(old);
        Add(kept);

        Advance(Crawl);
        AnswerDialState(peers: [old, kept], maxOutbound: 0);
        oldActor.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // 30 s: not yet

        Advance(Crawl);
        AnswerDialState(peers: [old, kept], maxOutbound: 0);
        Assert.Equal("stopped", ExpectStopped(oldActor, graceful: true).Code);
        keptActor.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_seed_with_seeds_asks_them_first()
    {
        var other = Addrs.Routable(950);
        StartPex(Seed with { Seeds = [other] });

        Assert.Equal("DialSeedsNow", AnswerDialState(maxOutbound: 0));
        Assert.Equal([other], ExpectDials(1));
    }

    [Fact]
    public void Start_fails_clearly_when_no_seed_resolves_and_the_book_is_empty()
    {
        var seeds = new[] { NetAddress.Parse(Addrs.Id(1).Hex + "@seed1.invalid:26656"), NetAddress.Parse(Addrs.Id(2).Hex + "@seed2.invalid:26656") };
        StartPex(Defaults with { Seeds = seeds, Resolve = (host, _) => throw new System.Net.Sockets.SocketException(11001) });

        var report = AwaitStart();

        Assert.Equal(0, report.SeedsResolved);
        Assert.Contains("tendermint.p2p.seeds", report.Error);
        Assert.Contains("none of the 2 seed(s) resolves", report.Error);
        Assert.Equal(2, report.Warnings.Count);
        Assert.Contains(report.Warnings, w => w.Contains("seed1.invalid"));
        Assert.Contains(report.Warnings, w => w.Contains("seed2.invalid"));
    }

    [Fact]
    public void Start_reports_each_unresolved_seed_but_succeeds_when_one_resolves_or_the_book_has_addresses()
    {
        var bad = NetAddress.Parse(Addrs.Id(1).Hex + "@seed1.invalid:26656");
        var good = NetAddress.Parse(Addrs.Id(2).Hex + "@seed2.example:26656");
        StartPex(Defaults with
        {
            Seeds = [bad, good],
            Resolve = (host, _) => host == "seed2.example"
                ? Task.FromResult(new[] { System.Net.IPAddress.Parse("20.0.0.2") })
                : throw new System.Net.Sockets.SocketException(11001),
        });

        var report = AwaitStart();

        Assert.Null(report.Error);
        Assert.Equal(1, report.SeedsResolved);
        Assert.Contains("seed1.invalid", Assert.Single(report.Warnings));
    }

    [Fact]
    public void Start_warns_of_no_seeds_and_an_empty_book()
    {
        StartPex(Defaults);

        var report = AwaitStart();

        Assert.Null(report.Error);
        Assert.Contains("no seeds and an empty address book", Assert.Single(report.Warnings));
    }
}
