using System.Net;
using System.Reflection;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using TendermintActors.Peers;
using TendermintActors.Peers.Internal;
using TendermintActors.Protocol.Identity;
using Xunit.Abstractions;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// The actors made once per connection (the handshake actor, the peer actor) are made by a plain constructor call
/// (<see cref="ActorFactory{TActor}"/>), not from an expression tree whose arguments Akka reads by reflection and
/// whose constructor it finds again by reflection (Akka's activator): that is garbage and CPU every handshake of a
/// burst pays (docs/performance.md, "Where a connection's garbage comes from"). Which producer props use is Akka's
/// private state, read here by reflection.
/// </summary>
public sealed class ConnectionActorPropsSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static IIndirectActorProducer ProducerOf(Props props) =>
        (IIndirectActorProducer)typeof(Props).GetField("_producer", BindingFlags.Instance | BindingFlags.NonPublic)!
            .GetValue(props)!;

    [Fact]
    public void The_handshake_actor_is_made_by_its_factory()
    {
        var origin = new PeerOrigin.Inbound(null!);
        var props = HandshakeActor.Props(null!, origin, ActorRefs.Nobody);

        Assert.IsType<ActorFactory<HandshakeActor>>(ProducerOf(props));
        Assert.Equal(typeof(HandshakeActor), props.Type);
        Assert.Contains(origin, props.Arguments);
    }

    [Fact]
    public void The_peer_actor_is_made_by_its_factory()
    {
        var id = NodeKey.Generate().Id;
        var info = NodeInfoModel.Create(id, "tcp://127.0.0.1:26656", "test-net", "remote", [0x42]);
        var remote = new IPEndPoint(IPAddress.Loopback, 40000);
        var handle = new PeerHandle(id, info, isOutbound: false, isPersistent: false, remote, null, TestActor);

        var props = PeerActor.Props(null!, handle, null!, ActorRefs.Nobody);

        Assert.IsType<ActorFactory<PeerActor>>(ProducerOf(props));
        Assert.Equal(typeof(PeerActor), props.Type);
        // The props keep the handle without the actor it named (the handshake actor's, in the switch).
        Assert.Equal(ActorRefs.Nobody, Assert.Single(props.Arguments.OfType<PeerHandle>()).Actor);
    }

    [Fact]
    public void Props_from_an_expression_tree_are_made_by_Akkas_activator()
    {
        // What the two specs above tell apart: the form the factory replaces.
        var props = Props.Create(() => new Recorder(TestActor, "made"));

        Assert.False(ProducerOf(props) is ActorFactory<Recorder>);
        Assert.Equal(2, props.Arguments.Length);
    }

    [Fact]
    public void The_factory_makes_the_actor_with_its_arguments_each_time_Akka_asks()
    {
        var made = 0;
        var actor = Sys.ActorOf(ActorFactory<Recorder>.Props(() => new Recorder(TestActor, $"made {++made}")));

        ExpectMsg("made 1");
        actor.Tell(new Restart());
        ExpectMsg("made 2");
    }

    private sealed record Restart;

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(IActorRef probe, string greeting)
        {
            probe.Tell(greeting);
            Receive<Restart>(_ => throw new InvalidOperationException("restart me"));
        }
    }
}
