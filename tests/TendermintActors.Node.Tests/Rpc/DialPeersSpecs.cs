using System.Net;
using System.Text.Json.Nodes;
using Akka.Actor;
using TendermintActors.Node.Commands;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;

namespace TendermintActors.Node.Tests.Rpc;

/// <summary>
/// dial_peers' flags as CometBFT's UnsafeDialPeers has them (persistent, unconditional, private), and the
/// rpc_address that peers are told.
/// </summary>
public sealed class DialPeersSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly HttpClient Http = new() { Timeout = Timeout };

    private static TempHome InitHome(string moniker)
    {
        var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", moniker).ExitCode);
        return home;
    }

    private static Task<StartCommand.RunningNode> Start(TempHome home, params string[] sets) =>
        StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "tcp://127.0.0.1:0",
            RpcUnsafe = true,
            SinkChannels = [0x43],
            Sets = ["tendermint.p2p.dial-start-jitter=0s", "tendermint.p2p.addr-book-strict=off", .. sets],
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);

    private static async Task<JsonObject> Get(StartCommand.RunningNode node, string pathAndQuery)
    {
        using var response = await Http.GetAsync(new Uri(node.Rpc!.Url, pathAndQuery));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToJsonString());
        return body;
    }

    /// <summary>The first <see cref="Switch.PeerConnected"/> or <see cref="Switch.ConnectionRejected"/> the node's switch reports.</summary>
    private static Task<object> FirstOutcome(StartCommand.RunningNode node) =>
        node.Switch.Ask<object>(r => new Switch.Subscribe(node.System.ActorOf(Props.Create(() => new FirstOutcomeForwarder(r)))),
            Timeout, CancellationToken.None);

    private sealed class FirstOutcomeForwarder : ReceiveActor
    {
        public FirstOutcomeForwarder(IActorRef replyTo)
        {
            Receive<Switch.PeerConnected>(m => Forward(replyTo, m));
            Receive<Switch.ConnectionRejected>(m => Forward(replyTo, m));
            ReceiveAny(_ => { });
        }

        private static void Forward(IActorRef replyTo, object message)
        {
            replyTo.Tell(message);
            Context.Stop(Context.Self);
        }
    }

    [Fact]
    public async Task A_peer_is_told_the_rpc_address_that_status_shows()
    {
        using var home1 = InitHome("one");
        using var home2 = InitHome("two");
        await using var node1 = await Start(home1);
        await using var node2 = await Start(home2);
        var connected = FirstOutcome(node1);
        await Get(node2, $"/dial_peers?peers=[\"{node1.PeerAddress}\"]");

        var peer = Assert.IsType<Switch.PeerConnected>(await connected).Peer;
        var status = await Get(node2, "/status");
        Assert.Equal(node2.Rpc!.Address, (string)status["result"]!["node_info"]!["other"]!["rpc_address"]!);
        Assert.Equal(node2.Rpc.Address, peer.NodeInfo.RpcAddress);
        Assert.DoesNotContain(":0", peer.NodeInfo.RpcAddress.Replace("127.0.0.1", ""));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Dial_peers_with_persistent_makes_the_peer_persistent(bool persistent)
    {
        using var home1 = InitHome("one");
        using var home2 = InitHome("two");
        await using var node1 = await Start(home1);
        await using var node2 = await Start(home2);
        var connected = FirstOutcome(node2);
        await Get(node2, $"/dial_peers?peers=[\"{node1.PeerAddress}\"]&persistent={(persistent ? "true" : "false")}");
        Assert.IsType<Switch.PeerConnected>(await connected);

        var state = await node2.Switch.Ask<Switch.DialState>(new Switch.GetDialState(), Timeout);
        Assert.Equal(persistent, state.IsPersistent(node1.Id));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Dial_peers_with_unconditional_lets_the_peer_past_the_outbound_limit(bool unconditional)
    {
        using var home1 = InitHome("one");
        using var home2 = InitHome("two");
        await using var node1 = await Start(home1);
        await using var node2 = await Start(home2, "tendermint.p2p.max-num-outbound-peers=0");
        var outcome = FirstOutcome(node2);
        await Get(node2, $"/dial_peers?peers=[\"{node1.PeerAddress}\"]&unconditional={(unconditional ? "true" : "false")}");

        if (unconditional)
            Assert.Equal(node1.Id, Assert.IsType<Switch.PeerConnected>(await outcome).Peer.Id);
        else
            Assert.IsType<Switch.ConnectionRejected>(await outcome);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Dial_peers_with_private_keeps_the_peers_address_out_of_the_address_book(bool isPrivate)
    {
        using var home1 = InitHome("one");
        using var home2 = InitHome("two");
        await using var node1 = await Start(home1);
        await using var node2 = await Start(home2);
        var connected = FirstOutcome(node2);
        await Get(node2, $"/dial_peers?peers=[\"{node1.PeerAddress}\"]&private={(isPrivate ? "true" : "false")}");
        Assert.IsType<Switch.PeerConnected>(await connected);

        // What PEX would do with node one's address, learnt from a third node: refused when node one is private.
        var endpoint = (IPEndPoint)node1.ListenAddress;
        var address = new NetAddress(node1.Id, endpoint.Address, endpoint.Port);
        var source = new NetAddress(NodeKey.Generate().Id, IPAddress.Parse("127.0.0.2"), 26656);
        var added = await node2.AddrBook!.Ask<AddrBook.AddedAddresses>(new AddrBook.AddAddresses([address], source), Timeout);
        Assert.Equal(isPrivate ? 1 : 0, added.Refused);
    }
}
