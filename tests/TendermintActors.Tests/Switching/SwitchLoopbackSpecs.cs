using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Switching;

/// <summary>Two switches over real loopback TCP, each with three reactors on three prioritised channels.</summary>
public sealed class SwitchLoopbackSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly ChannelDescriptor[] Channels =
    [
        new(0x40, 1) { SendQueueCapacity = 10 },
        new(0x41, 5) { SendQueueCapacity = 1 },
        new(0x42, 10) { SendQueueCapacity = 100 },
    ];

    private sealed record Node(NodeKey Key, IActorRef Switch, TestProbe[] Reactors, EndPoint Listen);

    private async Task<Node> StartNode(string name, IP2PTransport transport)
    {
        var key = NodeKey.Generate();
        var probes = Channels.Select(_ => CreateTestProbe()).ToArray();
        var registrations = Channels.Select((c, i) =>
            new ReactorRegistration($"r{c.Id:x2}", Sys.ActorOf(RecordingReactor.Props(probes[i].Ref), $"{name}-reactor-{c.Id:x2}"), [c])).ToList();
        var settings = new Switch.Settings { ListenHost = "127.0.0.1", ListenPort = 0, Moniker = name, DialStartJitter = TimeSpan.Zero };
        var sw = Sys.ActorOf(Switch.Props(key, settings, registrations, transport), $"{name}-switch");
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var listening = await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout));
        return new Node(key, sw, probes, listening.ListenAddress!);
    }

    private static NetAddress AddressOf(Node node) =>
        new(node.Key.Id, ((IPEndPoint)node.Listen).Address, ((IPEndPoint)node.Listen).Port);

    [Fact]
    public async Task Two_switches_exchange_random_messages_on_all_channels_both_ways_intact_and_in_order()
    {
        var a = await StartNode("a", new TcpTransport());
        var b = await StartNode("b", new TcpTransport());
        b.Switch.Tell(new Switch.DialPeers([AddressOf(a)]));

        // Every reactor on both sides hears of the other node first.
        var handlesAtA = new List<PeerHandle>();
        var handlesAtB = new List<PeerHandle>();
        foreach (var probe in a.Reactors) handlesAtA.Add((await probe.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer);
        foreach (var probe in b.Reactors) handlesAtB.Add((await probe.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer);
        Assert.All(handlesAtA, h => Assert.Equal(b.Key.Id, h.Id));
        Assert.All(handlesAtB, h => Assert.Equal(a.Key.Id, h.Id));
        Assert.False(handlesAtA[0].IsOutbound);
        Assert.True(handlesAtB[0].IsOutbound);

        // Random messages (0 to 5000 bytes) on every channel, both directions at once.
        var random = new Random(42);
        var sent = new Dictionary<(bool FromA, byte Channel), List<byte[]>>();
        foreach (var fromA in new[] { true, false })
            foreach (var channel in Channels)
                sent[(fromA, channel.Id)] = Enumerable.Range(0, 60).Select(_ =>
                {
                    var m = new byte[random.Next(0, 5000)];
                    random.NextBytes(m);
                    return m;
                }).ToList();
        var results = CreateTestProbe();
        foreach (var channel in Channels)
        {
            foreach (var m in sent[(true, channel.Id)]) handlesAtA[0].Send(channel.Id, m, results.Ref);
            foreach (var m in sent[(false, channel.Id)]) handlesAtB[0].Send(channel.Id, m, results.Ref);
        }

        for (var i = 0; i < Channels.Length; i++)
        {
            await ExpectMessages(b.Reactors[i], Channels[i].Id, sent[(true, Channels[i].Id)], a.Key.Id);
            await ExpectMessages(a.Reactors[i], Channels[i].Id, sent[(false, Channels[i].Id)], b.Key.Id);
        }
        var accepted = await results.ReceiveNAsync(sent.Values.Sum(l => l.Count), Dilated(Timeout)).ToListAsync();
        Assert.All(accepted, r => Assert.True(((Peer.SendResult)r).Accepted));

        // Stopping one node: the other's reactors hear the peer was removed, after its messages.
        await b.Switch.GracefulStop(Dilated(Timeout));
        foreach (var probe in a.Reactors)
        {
            var removed = await probe.ExpectMsgAsync<Reactor.PeerRemoved>(Dilated(Timeout));
            Assert.Equal(b.Key.Id, removed.Peer.Id);
        }
    }

    private async Task ExpectMessages(TestProbe reactor, byte channel, List<byte[]> expected, NodeId from)
    {
        foreach (var message in expected)
        {
            var received = await reactor.ExpectMsgAsync<Reactor.Received>(Dilated(Timeout));
            Assert.Equal(channel, received.Channel);
            Assert.Equal(from, received.Peer.Id);
            Assert.Equal(message, received.Message.ToArray());
        }
    }

    [Fact]
    public async Task A_node_flooding_connections_does_not_stop_two_connected_nodes_from_talking()
    {
        var a = await StartNode("fa", new TcpTransport());
        var b = await StartNode("fb", new TcpTransport());
        b.Switch.Tell(new Switch.DialPeers([AddressOf(a)]));
        var atB = new List<PeerHandle>();
        foreach (var probe in a.Reactors) await probe.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout));
        foreach (var probe in b.Reactors) atB.Add((await probe.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer);

        // The flood: 300 connections to a, half silent, half sending garbage, all open at once.
        var flood = new List<ScriptedPeer>();
        var junk = new byte[4096];
        new Random(7).NextBytes(junk);
        for (var i = 0; i < 300; i++)
        {
            try
            {
                var peer = await ScriptedPeer.Connect((IPEndPoint)a.Listen, Dilated(Timeout));
                if (i % 2 == 0) peer.Send(junk);
                flood.Add(peer);
            }
            catch (System.Net.Sockets.SocketException)
            {
                // a closing surplus connections at once is the point; a refused connect is fine too
            }
        }

        // Meanwhile b keeps talking to a on every channel.
        var messages = Enumerable.Range(0, 50).Select(i => BitConverter.GetBytes(i)).ToList();
        for (var c = 0; c < Channels.Length; c++)
            foreach (var m in messages)
                atB[c].Send(Channels[c].Id, m);
        for (var c = 0; c < Channels.Length; c++)
            await ExpectMessages(a.Reactors[c], Channels[c].Id, messages, b.Key.Id);

        a.Switch.Tell(Switch.GetPeers.Instance);
        var peers = await ExpectMsgAsync<Switch.Peers>(Dilated(Timeout));
        Assert.Equal(b.Key.Id, Assert.Single(peers.Connected).Id);
        foreach (var peer in flood) peer.Dispose();
    }
}
