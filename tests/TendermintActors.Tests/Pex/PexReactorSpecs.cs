using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Pex;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using TendermintActors.Switching;
using TendermintActors.Tests.AddrBook;
using Xunit.Abstractions;
using Book = TendermintActors.Pex.AddrBook;

namespace TendermintActors.Tests.Pex;

/// <summary>The PEX rules of docs/protocol.md §7 for a node in normal mode, one spec per rule.</summary>
public sealed class PexReactorSpecs(ITestOutputHelper output) : PexSpecBase(output)
{
    /// <summary>Rounds only when the spec asks (a day between timer rounds), for specs that move the clock far.</summary>
    private static PexReactor.Settings Quiet => Defaults with { EnsurePeersPeriod = TimeSpan.FromDays(3650) };

    /// <summary>Starts PEX and answers its first ensure-peers round with an empty switch (nothing dialled, no seeds).</summary>
    private void AddOne(Akka.Actor.IActorRef book, NetAddress addr)
    {
        book.Tell(new Book.AddAddress(addr, Addrs.Source(1)));
        ExpectMsg<AddResult>();
    }

    private void Started(PexReactor.Settings? settings = null, Action<Akka.Actor.IActorRef>? fillBook = null)
    {
        StartPex(settings, fillBook);
        Assert.Equal("EnsureRound", AnswerDialState(maxOutbound: 0));
    }

    [Fact]
    public void Pex_must_ask_a_new_outbound_peer_for_addresses_while_the_book_needs_them()
    {
        Started();
        var (peer, actor) = NewPeer(outbound: true);

        Add(peer);

        Assert.IsType<PexMessage.Request>(ExpectPex(actor));
        // One request in flight per peer: a second reason to ask does not send another.
        Pex.Tell(PexReactor.EnsurePeers.Instance);
        AnswerDialState(peers: [peer], maxOutbound: 2);
        actor.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Pex_must_not_ask_an_outbound_peer_when_the_book_holds_enough_addresses()
    {
        Started(fillBook: book =>
        {
            for (var source = 0; source < 10; source++)
            {
                book.Tell(new Book.AddAddresses(Enumerable.Range(1 + source * 100, 100).Select(Addrs.Routable).ToList(), Addrs.Source(source)));
                ExpectMsg<Book.AddedAddresses>();
            }
            book.Tell(Book.Size.Instance);
            Assert.Equal(1000, ExpectMsg<int>());
        });
        var (peer, actor) = NewPeer(outbound: true);

        Add(peer);

        actor.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Pex_must_add_an_inbound_peer_s_listen_address_with_the_peer_as_its_source_and_not_ask_it()
    {
        Started();
        var (peer, actor) = NewPeer(outbound: false);

        Add(peer);

        AwaitAssert(() =>
        {
            var entry = Assert.Single(BookEntries());
            Assert.Equal(peer.NodeInfo.ToNetAddress(), entry.Addr);
            Assert.Equal(entry.Addr, entry.Src);
        });
        actor.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Pex_must_mark_an_outbound_peer_good_so_that_its_address_moves_to_an_old_bucket()
    {
        Started();
        var (peer, _) = NewPeer(outbound: true);
        AddToBook(peer.DialledAddress!);

        Add(peer);

        AwaitAssert(() => Assert.Equal(BucketType.Old, Assert.Single(BookEntries()).BucketType));
    }

    [Fact]
    public void Pex_must_answer_a_request_with_a_selection_of_the_book()
    {
        Started();
        for (var n = 1; n <= 5; n++) AddToBook(Addrs.Routable(n), Addrs.Source(n));
        var (peer, actor) = NewPeer(outbound: false);
        Add(peer);

        Receive(peer, Request);

        var answer = Assert.IsType<PexMessage.Addrs>(ExpectPex(actor));
        // Five known addresses and the peer's own: a book under 32 hands out all of it.
        Assert.Equal(6, answer.Addresses.Count);
        Assert.Contains(Addrs.Routable(3), answer.Addresses);
    }

    [Fact]
    public void Pex_must_let_two_requests_through_then_forgive_one_early_request_then_stop_and_ban_the_peer()
    {
        Started();
        var (peer, actor) = NewPeer(outbound: false);
        Add(peer);
        AwaitAssert(() => Assert.Single(BookEntries())); // its own address, so that the ban has something to hold

        Receive(peer, Request);
        Receive(peer, Request);
        Assert.IsType<PexMessage.Addrs>(ExpectPex(actor));
        Assert.IsType<PexMessage.Addrs>(ExpectPex(actor));
        Advance(TimeSpan.FromSeconds(1));
        Receive(peer, Request); // too soon: forgiven once
        Assert.IsType<PexMessage.Addrs>(ExpectPex(actor));
        Advance(TimeSpan.FromSeconds(1));
        Receive(peer, Request); // too soon again

        var reason = ExpectStopped(actor, graceful: false);
        Assert.Equal("pex/request-too-soon", reason.Code);
        Assert.True(reason.IsError);
        AwaitAssert(() => Assert.Empty(BookEntries()));
        Assert.IsType<AddResult.Refused>(AddToBook(peer.NodeInfo.ToNetAddress())); // banned
    }

    [Fact]
    public void Pex_must_serve_a_peer_that_waits_a_third_of_the_ensure_peers_period_between_requests()
    {
        Started(Defaults with { EarlyRequestsTolerated = 0 });
        var (peer, actor) = NewPeer(outbound: false);
        Add(peer);

        Receive(peer, Request);
        Receive(peer, Request);
        Assert.IsType<PexMessage.Addrs>(ExpectPex(actor));
        Assert.IsType<PexMessage.Addrs>(ExpectPex(actor));
        for (var i = 0; i < 3; i++)
        {
            Advance(TimeSpan.FromSeconds(10));
            Receive(peer, Request);
            Assert.IsType<PexMessage.Addrs>(ExpectPex(actor));
        }
        actor.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Pex_must_add_solicited_addresses_with_the_peer_as_their_source()
    {
        Started();
        var (peer, actor) = NewPeer(outbound: true);
        Add(peer);
        Assert.IsType<PexMessage.Request>(ExpectPex(actor));

        Receive(peer, AddrsMessage(Addrs.Routable(1), Addrs.Routable(2)));

        AwaitAssert(() =>
        {
            var entries = BookEntries();
            Assert.Equal(2, entries.Count);
            Assert.All(entries, e => Assert.Equal(peer.NodeInfo.ToNetAddress(), e.Src));
        });
        Assert.Equal(0, Status().RequestsInFlight);
    }

    [Fact]
    public void Pex_must_stop_and_ban_a_peer_that_sends_addresses_it_was_not_asked_for()
    {
        Started();
        var (peer, actor) = NewPeer(outbound: false);
        Add(peer);
        AwaitAssert(() => Assert.Single(BookEntries()));

        Receive(peer, AddrsMessage(Addrs.Routable(1)));

        Assert.Equal("pex/unsolicited-addrs", ExpectStopped(actor, graceful: false).Code);
        AwaitAssert(() => Assert.Empty(BookEntries()));
        Assert.IsType<AddResult.Refused>(AddToBook(peer.NodeInfo.ToNetAddress()));
    }

    [Fact]
    public void Pex_must_stop_a_peer_that_answers_twice_to_one_request()
    {
        Started();
        var (peer, actor) = NewPeer(outbound: true);
        Add(peer);
        Assert.IsType<PexMessage.Request>(ExpectPex(actor));

        Receive(peer, AddrsMessage(Addrs.Routable(1)));
        Receive(peer, AddrsMessage(Addrs.Routable(2)));

        Assert.Equal("pex/unsolicited-addrs", ExpectStopped(actor, graceful: false).Code);
    }

    [Fact]
    public void Pex_must_stop_and_ban_a_peer_whose_answer_holds_a_host_name()
    {
        Started();
        var (peer, actor) = NewPeer(outbound: true);
        AddToBook(peer.DialledAddress!);
        Add(peer);
        Assert.IsType<PexMessage.Request>(ExpectPex(actor));
        var message = new Protocol.Wire.Message { PexAddrs = new Protocol.Wire.PexAddrs() };
        message.PexAddrs.Addrs.Add(Addrs.Routable(1).ToProto());
        message.PexAddrs.Addrs.Add(new Protocol.Wire.NetAddress { Id = Addrs.Id(2).Hex, Ip = "evil.example.com", Port = 26656 });

        Receive(peer, Google.Protobuf.MessageExtensions.ToByteArray(message));

        Assert.Equal("pex/invalid-address", ExpectStopped(actor, graceful: false).Code);
        AwaitAssert(() => Assert.Empty(BookEntries())); // the whole message refused, the sender banned
    }

    [Fact]
    public void Pex_must_stop_without_a_ban_a_peer_that_sends_undecodable_bytes()
    {
        Started();
        var (peer, actor) = NewPeer(outbound: true);
        AddToBook(peer.DialledAddress!);
        Add(peer);
        Assert.IsType<PexMessage.Request>(ExpectPex(actor));

        Receive(peer, [0xff, 0xff, 0xff]);

        var reason = ExpectStopped(actor, graceful: false);
        Assert.Equal("pex/undecodable", reason.Code);
        Assert.IsType<PexViolationException>(reason.Error);
        Assert.Single(BookEntries());
    }

    [Fact]
    public void Pex_must_dial_at_once_the_addresses_a_seed_hands_out()
    {
        var seed = Addrs.Routable(900);
        StartPex(Defaults with { Seeds = [seed] });
        AnswerDialState(maxOutbound: 0);
        var (peer, actor) = NewPeer(outbound: true, listen: seed);
        Add(peer);
        Assert.IsType<PexMessage.Request>(ExpectPex(actor));

        Receive(peer, AddrsMessage(Addrs.Routable(1), Addrs.Routable(2)));

        Assert.Equal([Addrs.Routable(1), Addrs.Routable(2)], ExpectDials(2).OrderBy(a => a.Id.Hex));
    }

    [Fact]
    public void Ensure_peers_must_dial_up_to_the_missing_outbound_count_from_the_book_every_period()
    {
        StartPex(fillBook: book =>
        {
            book.Tell(new Book.AddAddresses(Enumerable.Range(1, 20).Select(Addrs.Routable).ToList(), Addrs.Source(1)));
            ExpectMsg<Book.AddedAddresses>();
        });
        Assert.Equal("EnsureRound", AnswerDialState(maxOutbound: 0)); // the first round, at once
        var (connected, _) = NewPeer(outbound: true);

        Advance(Period); // the next round, on the timer
        AnswerDialState(peers: [connected], dialling: [Addrs.Id(99)], maxOutbound: 4);

        var dialled = ExpectDials(2); // 4 - (1 outbound + 1 dialling)
        Assert.Equal(2, dialled.Select(a => a.Id).Distinct().Count());
        Assert.All(dialled, a => Assert.InRange(int.Parse(a.Id.Hex, System.Globalization.NumberStyles.HexNumber), 1, 20));
        SwitchProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Advance(Period);
        AnswerDialState(peers: [connected], maxOutbound: 2);
        var next = Assert.Single(ExpectDials(1));
        Assert.DoesNotContain(next, dialled); // those two are still being dialled as far as PEX knows
    }

    [Fact]
    public void The_first_round_waits_a_random_part_of_the_period_when_the_node_has_peers_already()
    {
        StartPex(Defaults with { RandomSeed = 11 }, fillBook: book => AddOne(book, Addrs.Routable(1)));
        var (connected, _) = NewPeer(outbound: true);

        AnswerDialState(peers: [connected], maxOutbound: 10);
        SwitchProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no dial yet

        Advance(Period); // the jitter is below one period
        AnswerDialState(peers: [connected], maxOutbound: 10);
        Assert.Equal([Addrs.Routable(1)], ExpectDials(1));
    }

    [Fact]
    public void Ensure_peers_must_do_nothing_when_the_outbound_slots_are_full()
    {
        Started(fillBook: book => AddOne(book, Addrs.Routable(1)));
        var (inbound, actor) = NewPeer(outbound: false);
        Add(inbound);

        Pex.Tell(PexReactor.EnsurePeers.Instance);
        AnswerDialState(peers: [inbound], dialling: [Addrs.Id(7)], maxOutbound: 1);

        SwitchProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        actor.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Ensure_peers_must_ask_a_peer_for_addresses_and_dial_a_seed_when_the_book_has_nothing_to_dial()
    {
        var seed = Addrs.Routable(900);
        StartPex(Defaults with { Seeds = [seed] });
        AnswerDialState(maxOutbound: 0);
        var (inbound, actor) = NewPeer(outbound: false);
        Add(inbound);
        AwaitAssert(() => Assert.Single(BookEntries()));
        // The only address in the book is that peer's own, and it is connected: nothing to dial.

        Pex.Tell(PexReactor.EnsurePeers.Instance);
        AnswerDialState(peers: [inbound], maxOutbound: 10);

        Assert.IsType<PexMessage.Request>(ExpectPex(actor));
        Assert.Equal([seed], ExpectDials(1));
    }

    [Fact]
    public void Ensure_peers_must_try_the_next_seed_when_one_cannot_be_reached()
    {
        var seeds = new[] { Addrs.Routable(901), Addrs.Routable(902) };
        StartPex(Defaults with { Seeds = seeds });

        AnswerDialState(maxOutbound: 10);
        var first = Assert.Single(ExpectDials(1));
        Pex.Tell(new Switch.ConnectionRejected(first.Id, first, new PeerStopReason("transport/closed", "refused")));

        var second = Assert.Single(ExpectDials(1));
        Assert.NotEqual(first, second);
        Assert.Contains(second, seeds);
        Pex.Tell(new Switch.ConnectionRejected(second.Id, second, new PeerStopReason("transport/closed", "refused")));
        SwitchProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // every seed tried: wait for the next round
    }

    [Fact]
    public void A_failed_dial_is_recorded_and_the_address_waits_out_its_backoff_before_the_next_dial()
    {
        StartPex(Quiet, fillBook: book => AddOne(book, Addrs.Routable(1)));
        AnswerDialState(maxOutbound: 1);
        var target = Assert.Single(ExpectDials(1));

        Pex.Tell(new Switch.ConnectionRejected(target.Id, target, new PeerStopReason("transport/closed", "connection refused")));
        Settle();
        AwaitAssert(() => Assert.Equal(1, Assert.Single(BookEntries()).Attempts));

        Pex.Tell(PexReactor.EnsurePeers.Instance); // at once: 2 s (+ up to 1 s) have not passed
        AnswerDialState(maxOutbound: 1);
        SwitchProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        Advance(TimeSpan.FromSeconds(3));
        Pex.Tell(PexReactor.EnsurePeers.Instance);
        AnswerDialState(maxOutbound: 1);
        Assert.Equal([target], ExpectDials(1));
    }

    [Fact]
    public void A_non_persistent_address_is_given_up_and_banned_after_16_failed_dials()
    {
        var target = Addrs.Routable(1);
        StartPex(Quiet, fillBook: book => AddOne(book, target));
        AnswerDialState(maxOutbound: 1);
        for (var failures = 1; failures <= 17; failures++)
        {
            Assert.Equal([target], ExpectDials(1));
            Pex.Tell(new Switch.ConnectionRejected(target.Id, target, new PeerStopReason("transport/closed", "connection refused")));
            Settle();
            Advance(TimeSpan.FromSeconds(Math.Pow(2, failures) + 1));
            Pex.Tell(PexReactor.EnsurePeers.Instance);
            AnswerDialState(maxOutbound: 1);
        }

        // The 18th round finds 17 failures: more than 16, so the address is marked bad instead of dialled.
        SwitchProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        AwaitAssert(() => Assert.Empty(BookEntries()));
        Assert.IsType<AddResult.Refused>(AddToBook(target, Addrs.Source(2)));
    }

    [Fact]
    public void A_dial_answered_by_another_key_removes_the_address_from_the_book()
    {
        var target = Addrs.Routable(1);
        StartPex(fillBook: book => AddOne(book, target));
        AnswerDialState(maxOutbound: 1);
        ExpectDials(1);

        var mismatch = new HandshakeFailedException(HandshakeFailure.DialledIdMismatch, "someone else answered");
        Pex.Tell(new Switch.ConnectionRejected(Addrs.Id(77), target, PeerStopReason.FromException(mismatch)));

        AwaitAssert(() => Assert.Empty(BookEntries()));
    }

    [Fact]
    public void A_dial_that_reaches_ourselves_makes_the_address_ours_so_it_is_never_stored_again()
    {
        var target = Addrs.Routable(1);
        StartPex(fillBook: book => AddOne(book, target));
        AnswerDialState(maxOutbound: 1);
        ExpectDials(1);

        var self = new NodeInfoRejectedException(NodeInfoRejection.SelfConnection, "that is us");
        Pex.Tell(new Switch.ConnectionRejected(target.Id, target, PeerStopReason.FromException(self)));

        AwaitAssert(() => Assert.Empty(BookEntries()));
        Assert.IsType<AddResult.Refused>(AddToBook(target, Addrs.Source(2)));
    }

    [Fact]
    public void Ensure_peers_must_reinstate_expired_bans_while_the_book_needs_addresses()
    {
        var banned = Addrs.Routable(1);
        StartPex(Quiet);
        AnswerDialState(maxOutbound: 0);
        AddToBook(banned, Addrs.Source(1));
        BookActor.Tell(new Book.MarkBad(banned, TimeSpan.FromMinutes(5)));
        Assert.Empty(BookEntries());

        Advance(TimeSpan.FromMinutes(4));
        Pex.Tell(PexReactor.EnsurePeers.Instance);
        AnswerDialState(maxOutbound: 1);
        Assert.Equal(0, Status().DialsInFlight);
        Assert.Empty(BookEntries()); // still banned

        Advance(TimeSpan.FromMinutes(2));
        Pex.Tell(PexReactor.EnsurePeers.Instance);
        AnswerDialState(maxOutbound: 1);

        AwaitAssert(() => Assert.Equal(banned, Assert.Single(BookEntries()).Addr));
    }

    [Fact]
    public void Pex_forgets_an_inbound_peer_s_requests_when_it_leaves_but_keeps_an_outbound_one_s()
    {
        Started(Defaults with { EarlyRequestsTolerated = 0 });
        var (inbound, inActor) = NewPeer(outbound: false);
        Add(inbound);
        Receive(inbound, Request);
        Receive(inbound, Request);
        ExpectPex(inActor);
        ExpectPex(inActor);

        Remove(inbound);
        Add(inbound);
        Receive(inbound, Request); // a fresh start: free
        Assert.IsType<PexMessage.Addrs>(ExpectPex(inActor));

        var (outbound, outActor) = NewPeer(outbound: true);
        Add(outbound);
        ExpectPex(outActor); // our request
        Receive(outbound, Request);
        Receive(outbound, Request);
        ExpectPex(outActor);
        ExpectPex(outActor);
        Remove(outbound);
        Add(outbound);
        ExpectPex(outActor); // our request again
        Receive(outbound, Request); // the history is kept: too soon

        Assert.Equal("pex/request-too-soon", ExpectStopped(outActor, graceful: false).Code);
    }
}
