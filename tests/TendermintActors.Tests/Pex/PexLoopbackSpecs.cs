using Akka.Actor;
using TendermintActors.Hosting;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using TendermintActors.Tests.AddrBook;
using TendermintActors.Transport;
using Xunit.Abstractions;
using Book = TendermintActors.Pex.AddrBook;

namespace TendermintActors.Tests.Pex;

/// <summary>
/// Discovery over loopback TCP, with real time: nodes that know only a seed find each other, and a node restarted with
/// its address book finds them again without the seed. Each node is a switch with PEX as the hosting API starts it.
/// </summary>
public sealed class PexLoopbackSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output), IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new();
    private readonly List<NodeKey> _keys = [];

    private sealed record Node(string Name, NodeKey Key, IActorRef Switch, NetAddress Address, IActorRef Pex, IActorRef Book);

    private async Task<Node> StartNode(string name, NodeKey key, IReadOnlyList<NetAddress> seeds, bool seedMode = false, string? book = null)
    {
        var settings = new Switch.Settings
        {
            Moniker = name, ListenHost = "127.0.0.1", ListenPort = 0, AllowDuplicateIp = true, DialStartJitter = TimeSpan.Zero,
        };
        var pex = new PexOptions(
            new PexReactor.Settings { Seeds = seeds, SeedMode = seedMode, EnsurePeersPeriod = TimeSpan.FromSeconds(1) },
            new Book.Settings(book ?? _dir.File(name + ".json")) { Strict = false, SaveInterval = TimeSpan.Zero });
        var node = await Sys.TendermintP2P().StartNode(key, [], name, settings, new TcpTransport(), pex: pex);
        var sw = node.Switch;
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var listening = await events.ExpectMsgAsync<Switch.Listening>(Dilated(Settle));
        var endpoint = (System.Net.IPEndPoint)listening.ListenAddress!;
        return new Node(name, key, sw, new NetAddress(key.Id, endpoint.Address, endpoint.Port), node.Pex!, node.AddrBook!);
    }

    private NodeKey NewKey()
    {
        var key = NodeKey.Generate();
        _keys.Add(key);
        return key;
    }

    private async Task<IReadOnlySet<NodeId>> PeersOf(Node node) =>
        (await node.Switch.Ask<Switch.Peers>(Switch.GetPeers.Instance, Dilated(Settle))).Connected.Select(p => p.Id).ToHashSet();

    private async Task AwaitMesh(IReadOnlyList<Node> nodes)
    {
        await AwaitAssertAsync(async () =>
        {
            foreach (var node in nodes)
            {
                var peers = await PeersOf(node);
                foreach (var other in nodes.Where(o => o != node))
                    Assert.True(peers.Contains(other.Key.Id), $"{node.Name} is not connected to {other.Name}");
            }
        }, Dilated(Settle), TimeSpan.FromMilliseconds(100));
    }

    private async Task Stop(Node node)
    {
        // The switch first (peers closed), then PEX and the book (which saves its file as it stops).
        await node.Switch.Ask<Switch.ShutdownComplete>(new Switch.Shutdown(TimeSpan.FromSeconds(5)), Dilated(Settle));
        foreach (var actor in new[] { node.Switch, node.Pex, node.Book })
        {
            Watch(actor);
            Sys.Stop(actor);
            await ExpectTerminatedAsync(actor, Dilated(Settle));
        }
    }

    [Fact]
    public async Task Five_nodes_that_know_only_a_seed_find_each_other_and_a_restarted_node_comes_back_without_the_seed()
    {
        var seed = await StartNode("seed", NewKey(), [], seedMode: true);
        var nodes = new List<Node>();
        for (var i = 1; i <= 5; i++)
            nodes.Add(await StartNode($"n{i}", NewKey(), [seed.Address]));

        await AwaitMesh(nodes);

        // n1 leaves (its book saved on stop); the seed goes away for good.
        var leaver = nodes[0];
        await Stop(leaver);
        await Stop(seed);
        var bookFile = _dir.File(leaver.Name + ".json");
        Assert.True(File.Exists(bookFile));
        var reborn = await StartNode("n1-again", leaver.Key, seeds: [], book: bookFile);

        await AwaitMesh([reborn, .. nodes.Skip(1)]);
        // It found them through its book alone: no seed to ask, and its book still knows the others.
        reborn.Book.Tell(Book.GetAddresses.Instance);
        var known = ExpectMsg<Book.Addresses>().Entries.Select(e => e.Addr.Id).ToHashSet();
        Assert.Superset(nodes.Skip(1).Select(n => n.Key.Id).ToHashSet(), known);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        foreach (var key in _keys) key.Dispose();
        _dir.Dispose();
    }
}
