using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using TendermintActors.Peers;
using TendermintActors.Peers.Internal;
using TendermintActors.Pex;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using TendermintActors.Switching;
using TendermintActors.Tests.AddrBook;
using Xunit.Abstractions;
using Book = TendermintActors.Pex.AddrBook;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Tests.Pex;

/// <summary>
/// The PEX reactor alone, on Akka's TestScheduler: a real address book actor (its clock is the scheduler's), a probe
/// standing in for the switch (the spec answers its dial-state queries and sees its dials), and probes standing in for
/// peers' actors (they see what PEX sends and how it stops them). Timers move only with <see cref="Advance"/>.
/// </summary>
public abstract class PexSpecBase : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private static readonly Config SchedulerConfig = ConfigurationFactory.ParseString(
        "akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"");

    protected static readonly TimeSpan Period = TimeSpan.FromSeconds(30);

    private readonly TempDir _dir = new();
    private int _peers;

    protected PexSpecBase(ITestOutputHelper output) : base(SchedulerConfig, output: output)
    {
        SwitchProbe = CreateTestProbe("switch");
    }

    protected TestProbe SwitchProbe { get; }

    protected IActorRef BookActor { get; private set; } = ActorRefs.Nobody;

    protected IActorRef Pex { get; private set; } = ActorRefs.Nobody;

    protected TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    protected new DateTimeOffset Now => Scheduler.Now;

    protected void Advance(TimeSpan by) => Scheduler.Advance(by);

    protected static PexReactor.Settings Defaults => new() { EnsurePeersPeriod = Period, RandomSeed = 3 };

    /// <summary>Starts the book (strict off, so loopback-free private test ranges are fine) and PEX, given the switch probe.</summary>
    protected void StartPex(PexReactor.Settings? settings = null, Action<IActorRef>? fillBook = null)
    {
        BookActor = Sys.ActorOf(Book.Props(new Book.Settings(_dir.File("addrbook.json"))
        {
            Strict = false,
            SaveInterval = TimeSpan.Zero,
            Clock = () => Scheduler.Now.UtcDateTime,
            RandomSeed = 5,
        }), "addrbook");
        fillBook?.Invoke(BookActor);
        Pex = Sys.ActorOf(PexReactor.Props(settings ?? Defaults, BookActor, SwitchProbe.Ref), "pex");
        SwitchProbe.ExpectMsg<Switch.Subscribe>();
    }

    /// <summary>Starts PEX with another book (e.g. a probe), given the switch probe.</summary>
    protected void StartPexWith(IActorRef book, PexReactor.Settings? settings = null)
    {
        BookActor = book;
        Pex = Sys.ActorOf(PexReactor.Props(settings ?? Defaults, book, SwitchProbe.Ref), "pex");
        SwitchProbe.ExpectMsg<Switch.Subscribe>();
    }

    /// <summary>Answers PEX's next dial-state query (and returns its tag's type name).</summary>
    protected string AnswerDialState(IReadOnlyList<PeerHandle>? peers = null, IReadOnlyList<NodeId>? dialling = null, int maxOutbound = 10,
        IReadOnlySet<NodeId>? persistent = null)
    {
        var ask = SwitchProbe.ExpectMsg<Switch.GetDialState>();
        SwitchProbe.Reply(new Switch.DialState(peers ?? [], dialling ?? [], persistent ?? new HashSet<NodeId>(), maxOutbound,
            AllowDuplicateIp: true, ask.Tag));
        Settle(); // so that a clock moved next counts from after this round (its timers started, its time read)
        return ask.Tag!.GetType().Name;
    }

    protected PexReactor.StartReport AwaitStart()
    {
        Pex.Tell(PexReactor.AwaitStart.Instance);
        return ExpectMsg<PexReactor.StartReport>();
    }

    /// <summary>A peer whose actor is a probe (Acks ignored); its listen address is its own routable address.</summary>
    protected (PeerHandle Handle, TestProbe Actor) NewPeer(bool outbound, NetAddress? listen = null, bool persistent = false)
    {
        var n = ++_peers;
        var address = listen ?? Addrs.Routable(5000 + n);
        var probe = CreateTestProbe($"peer{n}");
        probe.IgnoreMessages(m => m is PeerActor.Acked);
        var info = NodeInfoModel.Create(address.Id, "tcp://" + address.HostPort, "test-net", $"peer{n}", [PexConstants.Channel]);
        var remote = new IPEndPoint(address.Ip!, outbound ? address.Port : 40000 + n);
        var handle = new PeerHandle(address.Id, info, outbound, persistent, remote, outbound ? address : null, probe.Ref);
        return (handle, probe);
    }

    protected void Add(PeerHandle peer)
    {
        Pex.Tell(new Reactor.PeerAdded(peer));
        Settle();
    }

    protected void Remove(PeerHandle peer)
    {
        Pex.Tell(new Reactor.PeerRemoved(peer, PeerStopReason.Closed()));
        Settle();
    }

    protected void Receive(PeerHandle peer, byte[] message) =>
        Pex.Tell(new Reactor.Received(peer, PexConstants.Channel, message));

    protected static byte[] Request => PexMessage.EncodeRequest();

    protected static byte[] AddrsMessage(params NetAddress[] addrs) => PexMessage.EncodeAddrs(addrs);

    /// <summary>The next PEX message the peer's actor is sent.</summary>
    protected static PexMessage ExpectPex(TestProbe peer)
    {
        var send = peer.ExpectMsg<Peer.Send>();
        Assert.Equal(PexConstants.Channel, send.Channel);
        return PexMessage.Decode(send.Message.Span);
    }

    protected static PeerStopReason ExpectStopped(TestProbe peer, bool graceful)
    {
        var stop = peer.ExpectMsg<Peer.Stop>();
        Assert.Equal(graceful, stop.Graceful);
        return stop.Reason;
    }

    protected IReadOnlyList<Book.AddressInfo> BookEntries()
    {
        BookActor.Tell(Book.GetAddresses.Instance);
        return ExpectMsg<Book.Addresses>().Entries;
    }

    protected AddResult AddToBook(NetAddress addr, NetAddress? src = null)
    {
        BookActor.Tell(new Book.AddAddress(addr, src ?? addr));
        return ExpectMsg<AddResult>();
    }

    protected IReadOnlyList<NetAddress> ExpectDials(int count)
    {
        var dialled = new List<NetAddress>();
        while (dialled.Count < count)
            dialled.AddRange(SwitchProbe.ExpectMsg<Switch.DialPeers>().Addresses);
        Assert.Equal(count, dialled.Count);
        return dialled;
    }

    /// <summary>
    /// Waits until PEX has handled what was sent to it before (its status answer comes after them), so that moving the
    /// clock next cannot overtake it. Answers PEX gets from the book later are not covered.
    /// </summary>
    protected void Settle() => Status();

    protected PexReactor.Status Status()
    {
        Pex.Tell(PexReactor.GetStatus.Instance);
        return ExpectMsg<PexReactor.Status>();
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _dir.Dispose();
    }
}
