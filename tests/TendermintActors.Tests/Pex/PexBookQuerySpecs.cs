using Akka.Actor;
using Akka.TestKit;
using TendermintActors.Peers;
using TendermintActors.Pex;
using TendermintActors.Protocol.Pex;
using TendermintActors.Switching;
using TendermintActors.Tests.AddrBook;
using Xunit.Abstractions;
using Book = TendermintActors.Pex.AddrBook;

namespace TendermintActors.Tests.Pex;

/// <summary>
/// PEX's conversation with the address book: queries told to the book, each answer matched to its question by ID, and
/// a timer for a book that does not answer. A probe stands in for the book.
/// </summary>
public sealed class PexBookQuerySpecs(ITestOutputHelper output) : PexSpecBase(output)
{
    private static readonly TimeSpan BookTimeout = TimeSpan.FromSeconds(10);

    private (IActorRef Pex, TestProbe Book) StartWithBookProbe()
    {
        var book = CreateTestProbe("book");
        StartPexWith(book.Ref);
        return (Pex, book);
    }

    [Fact]
    public void Pex_must_learn_the_book_s_size_at_start_from_the_answer_to_its_query()
    {
        var (pex, book) = StartWithBookProbe();

        var query = book.ExpectMsg<Book.Query>();
        Assert.IsType<Book.Size>(query.Command);
        book.Reply(new Book.Answer(query.Id, 3));

        pex.Tell(PexReactor.AwaitStart.Instance);
        Assert.Equal(3, ExpectMsg<PexReactor.StartReport>().BookSize);
    }

    [Fact]
    public void Pex_must_start_as_if_the_book_were_empty_when_the_book_does_not_answer_in_time()
    {
        var (pex, book) = StartWithBookProbe();
        var query = book.ExpectMsg<Book.Query>();

        Advance(BookTimeout);
        pex.Tell(PexReactor.AwaitStart.Instance);
        var report = ExpectMsg<PexReactor.StartReport>();

        Assert.Equal(0, report.BookSize);
        Assert.Contains(report.Warnings, w => w.Contains("empty address book")); // the lonely-node warning of an empty book
        book.Reply(new Book.Answer(query.Id, 3)); // too late: dropped
        Assert.Equal("EnsureRound", AnswerDialState(maxOutbound: 0));
    }

    [Fact]
    public void Pex_must_answer_each_peer_with_the_selection_the_book_answered_to_that_peer_s_query()
    {
        var (pex, book) = StartWithBookProbe();
        book.Reply(new Book.Answer(book.ExpectMsg<Book.Query>().Id, 0));
        Assert.Equal("EnsureRound", AnswerDialState(maxOutbound: 0));
        var (first, firstActor) = NewPeer(outbound: false);
        var (second, secondActor) = NewPeer(outbound: false);
        pex.Tell(new Reactor.PeerAdded(first));
        pex.Tell(new Reactor.PeerAdded(second));
        pex.Tell(new Reactor.Received(first, PexConstants.Channel, Request));
        var toFirst = book.FishForMessage<Book.Query>(q => q.Command is Book.GetSelection);
        pex.Tell(new Reactor.Received(second, PexConstants.Channel, Request));
        var toSecond = book.FishForMessage<Book.Query>(q => q.Command is Book.GetSelection);

        // Answered out of order: each answer still goes to the peer whose request it belongs to.
        book.Reply(new Book.Answer(toSecond.Id, new Book.Selection([Addrs.Routable(2)])));
        book.Reply(new Book.Answer(toFirst.Id, new Book.Selection([Addrs.Routable(1)])));

        Assert.Equal([Addrs.Routable(2)], Assert.IsType<PexMessage.Addrs>(ExpectPexSkippingAcks(secondActor)).Addresses);
        Assert.Equal([Addrs.Routable(1)], Assert.IsType<PexMessage.Addrs>(ExpectPexSkippingAcks(firstActor)).Addresses);
    }

    [Fact]
    public void Pex_must_drop_an_answer_that_comes_after_its_question_timed_out()
    {
        var (pex, book) = StartWithBookProbe();
        book.Reply(new Book.Answer(book.ExpectMsg<Book.Query>().Id, 0));
        Assert.Equal("EnsureRound", AnswerDialState(maxOutbound: 0));
        var (peer, peerActor) = NewPeer(outbound: false);
        pex.Tell(new Reactor.PeerAdded(peer));
        pex.Tell(new Reactor.Received(peer, PexConstants.Channel, Request));
        var query = book.FishForMessage<Book.Query>(q => q.Command is Book.GetSelection);

        Advance(BookTimeout);
        pex.Tell(PexReactor.GetStatus.Instance);
        ExpectMsg<PexReactor.Status>(); // the timeout was handled before the late answer below
        book.Reply(new Book.Answer(query.Id, new Book.Selection([Addrs.Routable(1)])));
        pex.Tell(PexReactor.GetStatus.Instance);
        ExpectMsg<PexReactor.Status>();

        peerActor.ExpectNoMsg(TimeSpan.Zero); // anything PEX sent it would be there by now
    }

    private static PexMessage ExpectPexSkippingAcks(TestProbe peer)
    {
        var send = peer.FishForMessage<TendermintActors.Peers.Peer.Send>(_ => true);
        return PexMessage.Decode(send.Message.Span);
    }
}
