using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using TendermintActors.Hosting;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Cluster;

/// <summary>
/// Two ActorSystems form an Akka.Cluster on loopback; each hosts a P2P node. What a reactor on member 1 receives
/// from a P2P peer reaches a subscriber on member 2 through the cluster's distributed pub-sub.
/// </summary>
public sealed class ClusterSpecs(ITestOutputHelper output) : TestKit(MemberConfig, output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly ChannelDescriptor[] Channels = [new(0x42, 5) { SendQueueCapacity = 10 }];
    private const string Topic = "p2p-chat";

    private const string MemberConfig = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.pub-sub.gossip-interval = 200ms
        akka.loglevel = INFO
        tendermint.p2p { laddr = "tcp://127.0.0.1:0", dial-start-jitter = 0s }
        """;

    /// <summary>Publishes every P2P message it receives to the cluster topic.</summary>
    private sealed class RelayReactor : ReactorActor
    {
        public RelayReactor()
        {
            var mediator = DistributedPubSub.Get(Context.System).Mediator;
            Receive<Reactor.Received>(r => mediator.Tell(new Publish(Topic, System.Text.Encoding.UTF8.GetString(r.Message.Span))));
            Receive<Reactor.IEvent>(_ => { });
        }
    }

    /// <summary>A plain cluster actor on the other member: subscribes and forwards to a probe.</summary>
    private sealed class Subscriber : ReceiveActor
    {
        public Subscriber(IActorRef probe)
        {
            DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(Topic, Self));
            Receive<SubscribeAck>(ack => probe.Tell(ack));
            Receive<string>(text => probe.Tell(text));
        }
    }

    [Fact]
    public async Task A_p2p_message_received_on_one_member_reaches_a_subscriber_on_the_other()
    {
        var member2 = ActorSystem.Create("test", ConfigurationFactory.ParseString(MemberConfig));
        try
        {
            var cluster1 = Akka.Cluster.Cluster.Get(Sys);
            var cluster2 = Akka.Cluster.Cluster.Get(member2);
            cluster1.Join(cluster1.SelfAddress);
            cluster2.Join(cluster1.SelfAddress);
            await AwaitAssertAsync(() =>
            {
                Assert.Equal(2, cluster1.State.Members.Count(m => m.Status == MemberStatus.Up));
                Assert.Equal(2, cluster2.State.Members.Count(m => m.Status == MemberStatus.Up));
            }, Dilated(Timeout));

            // A P2P node per member; member 1's reactor relays to the cluster.
            var node1 = (await Sys.TendermintP2P().StartNode(NodeKey.Generate(),
                [new ReactorRegistration("relay", Sys.ActorOf(Props.Create(() => new RelayReactor())), Channels)], name: "p2p-1")).Node;
            await member2.TendermintP2P().StartNode(NodeKey.Generate(),
                [new ReactorRegistration("relay", member2.ActorOf(Props.Create(() => new RelayReactor())), Channels)], name: "p2p-2");

            var probe = CreateTestProbe();
            member2.ActorOf(Props.Create(() => new Subscriber(probe.Ref)), "subscriber");
            await probe.ExpectMsgAsync<SubscribeAck>(Dilated(Timeout));
            // Subscriptions spread by gossip: wait until member 1's mediator knows the topic.
            var mediator1 = DistributedPubSub.Get(Sys).Mediator;
            await AwaitAssertAsync(async () =>
            {
                var topics = await mediator1.Ask<CurrentTopics>(GetTopics.Instance, Dilated(Timeout));
                Assert.Contains(Topic, topics.Topics);
            }, Dilated(Timeout));

            // An outside P2P peer (its own plain ActorSystem: not a cluster member) talks to member 1's node.
            var events = CreateTestProbe();
            node1.Tell(new Switch.Subscribe(events.Ref));
            var listening = await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout));
            var endpoint = (System.Net.IPEndPoint)listening.ListenAddress!;
            var outsider = ActorSystem.Create("outsider");
            try
            {
                var outsiderProbe = CreateTestProbe();
                var sw = outsider.ActorOf(Switch.Props(NodeKey.Generate(), new Switch.Settings { ListenHost = null, DialStartJitter = TimeSpan.Zero },
                    [new ReactorRegistration("chat", outsider.ActorOf(RecordingReactor.Props(outsiderProbe.Ref)), Channels)],
                    new TendermintActors.Transport.TcpTransport()));
                sw.Tell(new Switch.DialPeers([new NetAddress(NodeId.Parse(listening.NodeInfo.DefaultNodeId), endpoint.Address, endpoint.Port)]));
                var peer = (await outsiderProbe.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;
                peer.Send(0x42, "hello cluster"u8.ToArray());
                Assert.Equal("hello cluster", await probe.ExpectMsgAsync<string>(Dilated(Timeout)));
            }
            finally
            {
                await outsider.Terminate();
            }
        }
        finally
        {
            await member2.Terminate();
        }
    }
}
