using System.Text.Json;
using Akka.Actor;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Crawl;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Node.Tests;

public sealed class NetworkWalkTests
{
    private static NetAddress A(char c, int port = 26656) => NetAddress.Parse(new string(c, 40) + "@10.0.0.1:" + port);

    private static NodeInfoModel Info(NetAddress a) => NodeInfoModel.Create(a.Id, "tcp://" + a.HostPort, "net", "m", [0]);

    [Fact]
    public void A_walk_dials_seeds_first_learns_each_ID_once_and_ends_when_nothing_is_left()
    {
        var walk = new NetworkWalk([A('1')]);
        Assert.Equal([A('1')], walk.NextToDial(4));
        walk.Connected(A('1').Id, Info(A('1')));

        var learnt = walk.Answered(A('1').Id, [A('2'), A('3'), A('2', 9999), A('1')]);

        Assert.Equal([A('2'), A('3')], learnt); // the same ID at another port is not a new node
        Assert.Equal([A('2')], walk.NextToDial(1)); // at most one in flight
        walk.Finished(A('2').Id, "refused");
        Assert.Equal([A('3')], walk.NextToDial(1));
        Assert.False(walk.IsDone);
        walk.Connected(A('3').Id, Info(A('3')));
        walk.Finished(A('3').Id, null); // connected, never answered

        Assert.True(walk.IsDone);
        Assert.True(walk.AnySeedReached);
        var byId = walk.Nodes.ToDictionary(n => n.Address.Id);
        Assert.Equal("seed", byId[A('1').Id].LearntFrom);
        Assert.Equal(A('1').Id.Hex, byId[A('2').Id].LearntFrom);
        Assert.Equal((false, "refused"), (byId[A('2').Id].Reachable!.Value, byId[A('2').Id].Error));
        Assert.Equal((true, "no PEX answer"), (byId[A('3').Id].Reachable!.Value, byId[A('3').Id].Error));
        Assert.Equal(4, byId[A('1').Id].AddressesShared);
    }

    [Fact]
    public void Abandoning_a_walk_ends_what_is_in_flight_and_drops_what_waits()
    {
        var walk = new NetworkWalk([A('1'), A('2'), A('3')]);
        walk.NextToDial(1);

        walk.Abandon();

        Assert.True(walk.IsDone);
        Assert.False(walk.AnySeedReached);
        Assert.Equal(2, walk.Nodes.Count(n => n.Reachable is null));
    }
}

public sealed class CrawlCommandSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static TempHome InitHome(string moniker)
    {
        var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", moniker).ExitCode);
        return home;
    }

    private static readonly string[] Local = ["tendermint.p2p.addr-book-strict=off", "tendermint.p2p.allow-duplicate-ip=on", "tendermint.p2p.dial-start-jitter=0s"];

    private static Task<StartCommand.RunningNode> Start(TempHome home, bool seedMode = false, string? seeds = null) =>
        StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0", RpcListenAddress = "", SeedMode = seedMode, Seeds = seeds, Sets = Local,
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);

    /// <summary>Completes when <paramref name="node"/> has <paramref name="count"/> peers (from the switch's own events).</summary>
    private static Task AwaitPeers(StartCommand.RunningNode node, int count)
    {
        var done = new TaskCompletionSource();
        node.Switch.Tell(new Switch.Subscribe(node.System.ActorOf(Props.Create(() => new PeerCounter(count, done)))));
        return done.Task.WaitAsync(Timeout);
    }

    /// <summary>Counts connected peers from a switch subscription (the current ones come first) until there are enough.</summary>
    private sealed class PeerCounter : ReceiveActor
    {
        public PeerCounter(int count, TaskCompletionSource done)
        {
            var peers = new HashSet<NodeId>();
            Receive<Switch.PeerConnected>(c =>
            {
                peers.Add(c.Peer.Id);
                if (peers.Count >= count) done.TrySetResult();
            });
            Receive<Switch.PeerDisconnected>(d => peers.Remove(d.Peer.Id));
            ReceiveAny(_ => { });
        }
    }

    [Fact]
    public async Task Crawl_walks_from_the_seed_to_every_node_and_reports_each_as_json()
    {
        using var seedHome = InitHome("seed");
        using var home1 = InitHome("one");
        using var home2 = InitHome("two");
        await using var seed = await Start(seedHome, seedMode: true);
        await using var node1 = await Start(home1, seeds: seed.PeerAddress);
        await using var node2 = await Start(home2, seeds: seed.PeerAddress);
        await AwaitPeers(node1, 1);
        await AwaitPeers(node2, 1);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await CrawlCommand.RunAsync(
            new CrawlCommand.Options([NetAddress.Parse(seed.PeerAddress)], "test-net", Timeout, Json: true) { NodeTimeout = TimeSpan.FromSeconds(10) },
            stdout, stderr, CancellationToken.None).WaitAsync(Timeout + Timeout);

        Assert.True(code == 0, stderr.ToString());
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(e => e.GetProperty("id").GetString()!);
        Assert.Equal(new[] { seed.Id.Hex, node1.Id.Hex, node2.Id.Hex }.Order(), lines.Keys.Order());
        Assert.All(lines.Values, e => Assert.True(e.GetProperty("reachable").GetBoolean(), e.ToString()));
        Assert.Equal("seed", lines[seed.Id.Hex].GetProperty("learnt_from").GetString());
        Assert.Equal(seed.Id.Hex, lines[node1.Id.Hex].GetProperty("learnt_from").GetString());
        Assert.Equal("one", lines[node1.Id.Hex].GetProperty("moniker").GetString());
        Assert.Equal("test-net", lines[node2.Id.Hex].GetProperty("network").GetString());
        Assert.Equal("0x00", lines[node2.Id.Hex].GetProperty("channels")[0].GetString());
        Assert.Matches(@"^crawl: 3 nodes found, 3 reachable, 0 not; walk finished", stderr.ToString().Trim());
    }

    [Fact]
    public void Crawl_exits_1_when_no_seed_can_be_reached()
    {
        var run = CliRun.Of("crawl", "--seeds", new string('a', 40) + "@127.0.0.1:1", "--network", "test-net", "--node-timeout", "5s");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("no seed could be reached", run.Stderr);
        Assert.Contains("unreachable", run.Stdout);
    }

    [Fact]
    public void Crawl_refuses_a_bad_seed_naming_it()
    {
        var run = CliRun.Of("crawl", "--seeds", "nope", "--network", "test-net");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--seeds", run.Stderr);
    }
}
