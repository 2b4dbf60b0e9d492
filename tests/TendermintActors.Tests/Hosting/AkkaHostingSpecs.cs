using Akka.Actor;
using Akka.Hosting;
using Akka.TestKit.Xunit2;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TendermintActors.Hosting;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Hosting;

public sealed class AkkaHostingSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public void Options_become_hocon_with_only_what_was_set()
    {
        var hocon = new TendermintP2POptions
        {
            Moniker = "m \"q\"", MaxInboundPeers = 7, Pex = false, SeedMode = true, AddrBookFile = "/x/book.json", PersistentPeers = ["a", "b"],
        }.ToHocon();
        Assert.True(hocon.GetBoolean("tendermint.p2p.seed-mode"));
        Assert.Equal("/x/book.json", hocon.GetString("tendermint.p2p.addr-book-file"));
        Assert.Equal("m \"q\"", hocon.GetString("tendermint.p2p.moniker"));
        Assert.Equal(7, hocon.GetInt("tendermint.p2p.max-num-inbound-peers"));
        Assert.False(hocon.GetBoolean("tendermint.p2p.pex"));
        Assert.Equal("a,b", hocon.GetString("tendermint.p2p.persistent-peers"));
        Assert.False(hocon.HasPath("tendermint.p2p.network"));
    }

    [Fact]
    public async Task A_hosted_node_starts_with_options_over_defaults_and_is_reachable_through_the_registry()
    {
        var probe = CreateTestProbe();
        using var dir = new TendermintActors.Tests.AddrBook.TempDir();
        using var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("hosted", (builder, _) =>
                builder.WithTendermintP2P(o =>
                    {
                        o.Moniker = "hosted-node";
                        o.Network = "hosting-net";
                        o.ListenAddress = "tcp://127.0.0.1:0";
                        o.MaxInboundPeers = 3;
                        o.NodeKey = NodeKey.Generate();
                        o.AddrBookFile = dir.File("addrbook.json");
                    },
                    (system, _) => [new ReactorRegistration("chat", system.ActorOf(RecordingReactor.Props(probe.Ref)), [new ChannelDescriptor(0x42, 5)])])))
            .Build();
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var settings = system.TendermintP2P().Settings;
            Assert.Equal(3, settings.MaxNumInboundPeers);          // from the options (prepended)
            Assert.Equal(10, settings.MaxNumOutboundPeers);         // the reference's default (appended)
            Assert.Equal(TimeSpan.FromSeconds(60), settings.PingInterval);

            var node = await host.Services.GetRequiredService<IRequiredActor<TendermintP2PNode>>().GetAsync();
            var info = await node.Ask<Switch.NodeInfoReply>(Switch.GetNodeInfo.Instance, Dilated(Timeout));
            Assert.Equal("hosted-node", info.NodeInfo.Moniker);
            Assert.Equal("hosting-net", info.NodeInfo.Network);
            Assert.Equal([0x00, 0x42], info.NodeInfo.Channels.ToArray()); // PEX is on by default, on channel 0x00
            // The registry holds the node root, which forwards switch commands (as GetNodeInfo above) and hands out its children.
            Assert.Equal("/user/p2p", node.Path.ToStringWithoutAddress());
            var handle = await node.Ask<P2PNodeHandle>(P2PNode.GetHandle.Instance, Dilated(Timeout));
            var pex = handle.Pex!;
            Assert.Equal("/user/p2p/pex", pex.Path.ToStringWithoutAddress());
            var pexStart = await pex.Ask<TendermintActors.Pex.PexReactor.StartReport>(TendermintActors.Pex.PexReactor.AwaitStart.Instance, Dilated(Timeout));
            Assert.Null(pexStart.Error);

            // A node of our TestKit system dials it over loopback; the hosted reactor hears of it.
            var ours = NodeKey.Generate();
            var sw = Sys.ActorOf(Switch.Props(ours, new Switch.Settings { ListenHost = null, Network = "hosting-net", DialStartJitter = TimeSpan.Zero },
                [new ReactorRegistration("chat", Sys.ActorOf(RecordingReactor.Props(CreateTestProbe().Ref)), [new ChannelDescriptor(0x42, 5)])],
                new TendermintActors.Transport.TcpTransport()));
            var endpoint = (System.Net.IPEndPoint)info.ListenAddress!;
            sw.Tell(new Switch.DialPeers([new NetAddress(NodeId.Parse(info.NodeInfo.DefaultNodeId), endpoint.Address, endpoint.Port)]));
            Assert.Equal(ours.Id, (await probe.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer.Id);
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
