using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Peers;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.AddrBook;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;
using Book = TendermintActors.Pex.AddrBook;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// What the switch and the address book tell an operator: the events they log (level, text, semantic properties),
/// on the in-memory transport with the test scheduler driving every redial.
/// </summary>
public sealed class LogLineSpecs(ITestOutputHelper output) : TestKit("""
    akka.loglevel = DEBUG
    akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
    """, output: output)
{
    private const string Hint = "for a local test network set tendermint.p2p.addr-book-strict = off and tendermint.p2p.allow-duplicate-ip = on";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private InMemoryNetwork? _networkInstance;
    private InMemoryNetwork Network => _networkInstance ??= InMemoryNetwork.Create(Sys);
    private int _nodes;

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private sealed record Node(NodeKey Key, IActorRef Switch, TestProbe Reactor, TestProbe Events, NetAddress Address);

    private async Task<Node> StartNode(string host, Func<Switch.Settings, Switch.Settings>? configure = null)
    {
        var name = $"n{++_nodes}";
        var key = NodeKey.Generate();
        var reactor = CreateTestProbe();
        var settings = new Switch.Settings { ListenHost = host, ListenPort = 0, Moniker = name, DialStartJitter = TimeSpan.Zero };
        settings = configure?.Invoke(settings) ?? settings;
        var registration = new ReactorRegistration("recorder", Sys.ActorOf(RecordingReactor.Props(reactor.Ref), $"{name}-reactor"),
            [new ChannelDescriptor(0x40, 1)]);
        var sw = Sys.ActorOf(Switch.Props(key, settings, [registration], new InMemoryTransport(Network)), $"{name}-switch");
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var endpoint = (IPEndPoint)(await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout))).ListenAddress!;
        return new Node(key, sw, reactor, events, new NetAddress(key.Id, endpoint.Address, endpoint.Port));
    }

    private TestProbe LogProbe()
    {
        var probe = CreateTestProbe();
        Sys.EventStream.Subscribe(probe.Ref, typeof(Info));
        return probe;
    }

    /// <summary>The Info events logged so far (every one was published before the notice the test waited for).</summary>
    private static List<Info> Drain(TestProbe logs)
    {
        var events = new List<Info>();
        while (logs.HasMessages)
            events.Add((Info)logs.ReceiveOne(TimeSpan.Zero)!);
        return events;
    }

    [Fact]
    public async Task A_persistent_peer_that_cannot_be_dialled_is_one_info_line_per_attempt_with_the_error_and_the_next_attempt()
    {
        var logs = LogProbe();
        var target = NodeKey.Generate();
        var address = new NetAddress(target.Id, IPAddress.Parse("127.0.9.9"), 26656);
        var node = await StartNode("127.0.0.1", s => s with
        {
            PersistentPeers = [address],
            PersistentPeersRedialJitter = TimeSpan.Zero,
            DialStartJitter = TimeSpan.FromSeconds(1),
        });
        // The attempt at start fails; redial 0 follows at once and fails too; the next one is 5 s later.
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        await node.Events.FishForMessageAsync(m => m is Switch.ConnectionRejected, Dilated(Timeout));
        await node.Events.FishForMessageAsync(m => m is Switch.ConnectionRejected, Dilated(Timeout));

        var lines = Drain(logs).Where(e => e.Message.ToString()!.StartsWith("Could not dial persistent peer")).ToList();
        Assert.Equal(2, lines.Count);
        Assert.All(lines, e =>
        {
            Assert.Null(e.Cause); // the error is in the text; no stack trace
            Assert.True(e.TryGetProperties(out var properties));
            Assert.Equal(address, properties!["Peer"]);
            Assert.Contains("transport/", e.Message.ToString()); // the error's code and message
        });
        Assert.Contains("redialling in 0s at ", lines[0].Message.ToString());
        Assert.Contains("(attempt 1)", lines[0].Message.ToString());
        Assert.Contains("redialling in 5s at ", lines[1].Message.ToString());
        Assert.Contains("(attempt 2)", lines[1].Message.ToString());
    }

    [Fact]
    public async Task A_duplicate_ip_refusal_is_logged_at_info_once_per_ip_with_the_local_network_hint()
    {
        var hub = await StartNode("127.0.0.1");
        var first = await StartNode("127.0.0.2", s => s with { AllowDuplicateIp = true });
        var second = await StartNode("127.0.0.2", s => s with { AllowDuplicateIp = true });
        hub.Switch.Tell(new Switch.DialPeers([first.Address]));
        await hub.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout));
        var logs = LogProbe();
        for (var i = 0; i < 2; i++)
        {
            hub.Switch.Tell(new Switch.DialPeers([second.Address]));
            var rejected = (Switch.ConnectionRejected)await hub.Events.FishForMessageAsync(m => m is Switch.ConnectionRejected, Dilated(Timeout));
            Assert.Equal("rejected/duplicate-ip", rejected.Reason.Code);
        }

        var refusal = Assert.Single(Drain(logs), e => e.Message.ToString()!.Contains("is already connected"));
        Assert.Contains(Hint, refusal.Message.ToString());
        Assert.True(refusal.TryGetProperties(out var properties));
        Assert.Equal(second.Key.Id, properties!["Peer"]);
    }

    [Fact]
    public void An_unroutable_address_refused_by_a_strict_book_is_logged_at_info_once_per_address_with_the_local_network_hint()
    {
        using var dir = new TempDir();
        var book = Sys.ActorOf(Book.Props(new Book.Settings(dir.File("addrbook.json")) { SaveInterval = TimeSpan.Zero, Strict = true }));
        var logs = LogProbe();
        var local = new NetAddress(Addrs.Id(1), IPAddress.Loopback, 26656);
        var other = new NetAddress(Addrs.Id(2), IPAddress.Parse("192.168.1.2"), 26656);
        for (var i = 0; i < 3; i++)
        {
            book.Tell(new Book.AddAddress(local, Addrs.Source(1)));
            ExpectMsg<AddResult.Refused>();
        }
        book.Tell(new Book.AddAddresses([local, other], Addrs.Source(1)));
        ExpectMsg<Book.AddedAddresses>();

        var refusals = Drain(logs).Where(e => e.Message.ToString()!.Contains("not routable")).ToList();
        Assert.Equal(2, refusals.Count); // 127.0.0.1 once, 192.168.1.2 once
        Assert.All(refusals, e => Assert.Contains(Hint, e.Message.ToString()));
        Assert.True(refusals[0].TryGetProperties(out var properties));
        Assert.Equal(local, properties!["Addr"]);

        // The book saves when it stops: stop it while its folder exists, or that save recreates the folder after
        // the test has removed it.
        Watch(book);
        Sys.Stop(book);
        ExpectTerminated(book);
    }
}
