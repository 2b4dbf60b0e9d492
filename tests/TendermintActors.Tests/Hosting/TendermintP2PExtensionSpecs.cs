using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using TendermintActors.Hosting;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Hosting;

public sealed class TendermintP2PExtensionSpecs(ITestOutputHelper output) : TestKit(NodeConfig("ext-a"), output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly ChannelDescriptor[] Channels = [new(0x42, 5) { SendQueueCapacity = 10 }];

    private static string NodeConfig(string moniker) => $$"""
        tendermint.p2p {
          moniker = "{{moniker}}"
          laddr = "tcp://127.0.0.1:0"
          dial-start-jitter = 0s
        }
        """;

    [Fact]
    public void Extension_injects_the_reference_config_and_keeps_user_values()
    {
        var settings = Sys.TendermintP2P().Settings;
        Assert.Equal("ext-a", settings.Moniker);            // ours
        Assert.Equal(40, settings.MaxNumInboundPeers);       // the reference's
        Assert.Equal(TimeSpan.FromSeconds(45), settings.PongTimeout);
        Assert.Same(settings, Sys.TendermintP2P().Settings); // one extension per system
    }

    [Fact]
    public async Task A_node_the_switch_would_refuse_starts_no_actor_at_all()
    {
        using var key = NodeKey.Generate();
        var pex = new PexOptions(new TendermintActors.Pex.PexReactor.Settings(),
            new TendermintActors.Pex.AddrBook.Settings(Path.Combine(Path.GetTempPath(), $"refused-{Guid.NewGuid():N}.json")));
        var settings = Switch.Settings.From(Sys.TendermintP2P().Settings) with { TxIndex = "maybe" };

        // Thrown by StartNode itself, not by the task it would return.
        var e = Assert.Throws<ArgumentException>(() =>
        {
            _ = Sys.TendermintP2P().StartNode(key, [], name: "refused", settings: settings, pex: pex);
        });

        Assert.StartsWith("peers would refuse this node's info: other.tx_index 'maybe'", e.Message);
        foreach (var path in new[] { "/user/refused", "/user/refused/addrbook", "/user/refused/pex" })
            await Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection(path).ResolveOne(Dilated(Timeout)));
    }

    [Fact]
    public async Task Coordinated_shutdown_stops_peers_gracefully_before_the_system_terminates()
    {
        var probeA = CreateTestProbe();
        var nodeA = (await Sys.TendermintP2P().StartNode(NodeKey.Generate(),
            [new ReactorRegistration("chat", Sys.ActorOf(RecordingReactor.Props(probeA.Ref)), Channels)], name: "node-a")).Node;
        var events = CreateTestProbe();
        nodeA.Tell(new Switch.Subscribe(events.Ref));
        var listening = await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout));
        var endpoint = (System.Net.IPEndPoint)listening.ListenAddress!;

        var systemB = ActorSystem.Create("b", ConfigurationFactory.ParseString(NodeConfig("ext-b")));
        try
        {
            var probeB = CreateTestProbe();
            var nodeB = (await systemB.TendermintP2P().StartNode(NodeKey.Generate(),
                [new ReactorRegistration("chat", systemB.ActorOf(RecordingReactor.Props(probeB.Ref)), Channels)], name: "node-b")).Node;
            nodeB.Tell(new Switch.DialPeers([new NetAddress(NodeId.Parse(listening.NodeInfo.DefaultNodeId), endpoint.Address, endpoint.Port)]));
            var atB = (await probeB.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
            await probeA.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout));

            var deadLetters = CreateTestProbe();
            systemB.EventStream.Subscribe(deadLetters.Ref, typeof(Akka.Event.DeadLetter));

            // A message queued just before the shutdown still arrives: the peer is closed after a flush.
            atB.Send(0x42, "last words"u8.ToArray());
            await CoordinatedShutdown.Get(systemB).Run(CoordinatedShutdown.ClrExitReason.Instance);
            await systemB.WhenTerminated.WaitAsync(Dilated(Timeout));
            // Akka's own system actors may leave one behind as the system ends; ours (under /user) must not.
            var ours = new List<Akka.Event.DeadLetter>();
            while (deadLetters.HasMessages)
                if (deadLetters.ReceiveOne(TimeSpan.Zero) is Akka.Event.DeadLetter dl
                    && (dl.Recipient.Path.ToString().Contains("/user/") || dl.Sender.Path.ToString().Contains("/user/")))
                    ours.Add(dl);
            Assert.True(ours.Count == 0, $"dead letters during shutdown: {string.Join("; ", ours)}");

            Assert.Equal("last words", System.Text.Encoding.UTF8.GetString((await probeA.ExpectMsgAsync<Reactor.Received>(Dilated(Timeout))).Message.Span));
            // b closed politely (end of stream after its queue was flushed), not by dropping the socket. (b's own
            // reactor may already be stopped by the system's termination when its PeerRemoved arrives.)
            var removedAtA = await probeA.ExpectMsgAsync<Reactor.PeerRemoved>(Dilated(Timeout));
            Assert.Equal("closed", removedAtA.Reason.Code);
            Assert.False(removedAtA.Reason.IsError);
            await systemB.WhenTerminated.WaitAsync(Dilated(Timeout));
        }
        finally
        {
            await systemB.Terminate();
        }
    }
}
