using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Akka.Actor;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Diagnostics;
using TendermintActors.Switching;

namespace TendermintActors.Node.Tests.Rpc;

/// <summary>Two nodes on loopback, each with an RPC server on a free port; node two serves the unsafe routes.</summary>
public sealed class RpcSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly HttpClient Http = new() { Timeout = Timeout };

    private static TempHome InitHome(string moniker)
    {
        var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", moniker).ExitCode);
        return home;
    }

    private static Task<StartCommand.RunningNode> Start(TempHome home, bool rpcUnsafe) =>
        StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "tcp://127.0.0.1:0",
            RpcUnsafe = rpcUnsafe,
            SinkChannels = [0x43],
            Sets = ["tendermint.p2p.dial-start-jitter=0s", "tendermint.p2p.addr-book-strict=off"],
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);

    private static async Task<(HttpStatusCode Status, JsonObject Body)> Get(StartCommand.RunningNode node, string pathAndQuery)
    {
        using var response = await Http.GetAsync(new Uri(node.Rpc!.Url, pathAndQuery));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        return (response.StatusCode, body);
    }

    private static JsonObject Fixture(string name) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Rpc", "Fixtures", name)))!.AsObject();

    /// <summary>Resolves with the first peer that <paramref name="node"/>'s switch reports connected.</summary>
    private static Task<Switch.PeerConnected> FirstPeer(StartCommand.RunningNode node) =>
        node.Switch.Ask<Switch.PeerConnected>(r => new Switch.Subscribe(node.System.ActorOf(Props.Create(() => new Forwarder(r)))),
            Timeout, CancellationToken.None);

    [Fact]
    public async Task Rpc_serves_status_net_info_dial_peers_and_metrics_as_CometBFT_does()
    {
        using var home1 = InitHome("one");
        using var home2 = InitHome("two");
        await using var node1 = await Start(home1, rpcUnsafe: false);
        await using var node2 = await Start(home2, rpcUnsafe: true);
        Assert.Matches(@"^tcp://127\.0\.0\.1:[1-9][0-9]*$", node1.Rpc!.Address);

        // Without rpc.unsafe, dial_peers is not a method at all (GET and JSON-RPC alike), and nothing is dialled.
        var refused = await Get(node1, $"/dial_peers?peers=[\"{node2.PeerAddress}\"]&persistent=true");
        Assert.Equal(HttpStatusCode.NotFound, refused.Status);
        Assert.Equal(-32601, (int)refused.Body["error"]!["code"]!);
        Assert.Equal("Method not found", (string)refused.Body["error"]!["message"]!);
        var post = await Http.PostAsync(node1.Rpc.Url,
            new StringContent($$$"""{"jsonrpc":"2.0","id":7,"method":"dial_peers","params":{"peers":["{{{node2.PeerAddress}}}"]}}"""));
        var postBody = JsonNode.Parse(await post.Content.ReadAsStringAsync())!;
        Assert.Equal(7, (int)postBody["id"]!);
        Assert.Equal(-32601, (int)postBody["error"]!["code"]!);

        // With it, node two dials node one.
        var connected1 = FirstPeer(node1);
        var connected2 = FirstPeer(node2);
        var dial = await Get(node2, $"/dial_peers?peers=[\"{node1.PeerAddress}\"]&persistent=true");
        Assert.Equal(HttpStatusCode.OK, dial.Status);
        Assert.Equal("Dialing peers in progress. See /net_info for details", (string)dial.Body["result"]!["Log"]!);
        Assert.Equal(node2.Id, (await connected1).Peer.Id);
        Assert.Equal(node1.Id, (await connected2).Peer.Id);

        // Traffic both ways, so the byte counters and monitors have something to show.
        (await connected2).Peer.Send(0x43, new byte[] { 1, 2, 3 });
        (await connected1).Peer.Send(0x43, new byte[] { 4, 5 });
        await node1.Sink!.Ask<SinkReactor.Counts>(new SinkReactor.AwaitMessages(1), Timeout);
        await node2.Sink!.Ask<SinkReactor.Counts>(new SinkReactor.AwaitMessages(1), Timeout);

        var status = await Get(node1, "/status");
        AssertSameShape(Fixture("status.json"), status.Body, "$");
        var info = status.Body["result"]!["node_info"]!;
        Assert.Equal(node1.Id.Hex, (string)info["id"]!);
        Assert.Equal("one", (string)info["moniker"]!);
        Assert.Equal("test-net", (string)info["network"]!);
        Assert.Equal("0043", (string)info["channels"]!); // PEX's 0x00 and the sink's 0x43, as CometBFT's hex
        Assert.Equal(node1.Rpc.Address, (string)info["other"]!["rpc_address"]!);

        var netInfo1 = await Get(node1, "/net_info");
        AssertSameShape(Fixture("net_info.json"), netInfo1.Body, "$");
        var result1 = netInfo1.Body["result"]!;
        Assert.Equal("1", (string)result1["n_peers"]!);
        Assert.Matches(@"^Listener\(@127\.0\.0\.1:[0-9]+\)$", (string)result1["listeners"]![0]!);
        var peer = result1["peers"]![0]!;
        Assert.Equal(node2.Id.Hex, (string)peer["node_info"]!["id"]!);
        Assert.False((bool)peer["is_outbound"]!);
        Assert.Equal("127.0.0.1", (string)peer["remote_ip"]!);
        var channels = peer["connection_status"]!["Channels"]!.AsArray();
        Assert.Equal([0x00, 0x43], channels.Select(c => (int)c!["ID"]!));
        Assert.True(long.Parse((string)peer["connection_status"]!["RecvMonitor"]!["Bytes"]!) > 0);

        var netInfo2 = await Get(node2, "/net_info");
        Assert.True((bool)netInfo2.Body["result"]!["peers"]![0]!["is_outbound"]!);

        // The same method over JSON-RPC answers with the caller's id.
        var rpc = await Http.PostAsync(node1.Rpc.Url, new StringContent("""{"jsonrpc":"2.0","id":"abc","method":"status"}"""));
        var rpcBody = JsonNode.Parse(await rpc.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal("abc", (string)rpcBody["id"]!);
        Assert.Equal(node1.Id.Hex, (string)rpcBody["result"]!["node_info"]!["id"]!);

        var metrics = await Http.GetStringAsync(new Uri(node1.Rpc.Url, "/metrics"));
        Assert.Matches(new Regex(@"^cometbft_p2p_peers\{[^}]*chain_id=""test-net""[^}]*\} 1$", RegexOptions.Multiline), metrics);
        foreach (var name in new[] { "cometbft_p2p_peer_send_bytes_total", "cometbft_p2p_peer_receive_bytes_total",
                     "cometbft_p2p_message_send_bytes_total", "cometbft_p2p_message_receive_bytes_total" })
            Assert.Matches(new Regex($@"^{name}\{{[^}}]*chain_id=""test-net""[^}}]*\}} [1-9]", RegexOptions.Multiline), metrics);
        Assert.Matches(new Regex($@"^cometbft_p2p_peer_send_bytes_total\{{[^}}]*peer_id=""{node2.Id.Hex}""", RegexOptions.Multiline), metrics);
        Assert.DoesNotContain("_total_total", metrics);
        // Only this node's own instruments: node two's peer is node one.
        Assert.DoesNotContain($"peer_id=\"{node1.Id.Hex}\"", metrics);
    }

    [Fact]
    public async Task Dial_peers_refuses_a_malformed_address_with_a_json_rpc_error()
    {
        using var home = InitHome("lonely");
        await using var node = await Start(home, rpcUnsafe: true);
        var (status, body) = await Get(node, "/dial_peers?peers=[\"not-an-address\"]");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal(-32603, (int)body["error"]!["code"]!);
        Assert.Contains("not-an-address", (string)body["error"]!["data"]!);
    }

    [Fact]
    public async Task Metrics_show_zero_peers_before_the_first_one_connects()
    {
        using var home = InitHome("alone");
        await using var node = await Start(home, rpcUnsafe: false);
        var metrics = await Http.GetStringAsync(new Uri(node.Rpc!.Url, "/metrics"));
        Assert.Matches(new Regex(@"^cometbft_p2p_peers\{chain_id=""test-net""\} 0$", RegexOptions.Multiline), metrics);
    }

    [Fact]
    public async Task A_node_without_rpc_builds_no_metrics_exporter_and_one_with_rpc_does()
    {
        using var quietHome = InitHome("quiet");
        await using var quiet = await StartCommand.StartAsync(new StartCommand.Options(quietHome.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "",
            SinkChannels = [0x43],
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);
        using var servingHome = InitHome("serving");
        await using var serving = await Start(servingHome, rpcUnsafe: false);

        Assert.False(quiet.ExportsMetrics);
        Assert.True(serving.ExportsMetrics);
    }

    [Fact]
    public void Start_refuses_an_rpc_address_that_is_not_host_and_port()
    {
        using var home = InitHome("bad-rpc");
        var run = CliRun.Of("start", "--home", home.Root, "--sink-channel", "0x43", "--rpc.laddr", "tcp://127.0.0.1", "--rpc.unsafe", "true");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tendermint.rpc.laddr = \"tcp://127.0.0.1\": expected tcp://host:port", run.Stderr);
    }

    /// <summary>
    /// Same keys in the same order, and the same JSON kinds; a fixture string of digits (a 64-bit number, as
    /// CometBFT writes them) must be a string of digits. Arrays: every element against the fixture's first.
    /// </summary>
    private static void AssertSameShape(JsonNode? expected, JsonNode? actual, string path)
    {
        switch (expected)
        {
            case null:
                Assert.True(actual is null, $"{path}: expected null, got {actual?.ToJsonString()}");
                break;
            case JsonObject e:
                var a = Assert.IsType<JsonObject>(actual);
                Assert.True(e.Select(p => p.Key).SequenceEqual(a.Select(p => p.Key)),
                    $"{path}: keys [{string.Join(",", a.Select(p => p.Key))}], expected [{string.Join(",", e.Select(p => p.Key))}]");
                foreach (var (key, value) in e)
                    AssertSameShape(value, a[key], $"{path}.{key}");
                break;
            case JsonArray e:
                var arr = Assert.IsType<JsonArray>(actual);
                Assert.True(arr.Count > 0 || e.Count == 0, $"{path}: empty array");
                foreach (var item in arr)
                    AssertSameShape(e[0], item, $"{path}[]");
                break;
            default:
                Assert.True(actual is not null, $"{path}: missing");
                Assert.True(Kind(expected) == Kind(actual!), $"{path}: {Kind(actual!)}, expected {Kind(expected)}");
                if (expected.GetValueKind() == System.Text.Json.JsonValueKind.String && Regex.IsMatch((string)expected!, "^[0-9]+$"))
                    Assert.Matches("^-?[0-9]+$", (string)actual!);
                break;
        }
    }

    /// <summary>The JSON kind, with true and false as one kind.</summary>
    private static System.Text.Json.JsonValueKind Kind(JsonNode node) => node.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.False => System.Text.Json.JsonValueKind.True,
        var kind => kind,
    };

    private sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef replyTo)
        {
            Receive<Switch.PeerConnected>(connected =>
            {
                replyTo.Tell(connected);
                Context.Stop(Self);
            });
            ReceiveAny(_ => { });
        }
    }
}
