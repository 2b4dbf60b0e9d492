using System.Net;
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
/// whose constructor it finds again by reflection: that is garbage and CPU every handshake of a burst pays
/// (docs/performance.md, "Where a connection's garbage comes from"). Props from
/// <c>Props.Create(() =&gt; new T(a, b, c))</c> carry the arguments they read; props from the factory carry none.
/// </summary>
public sealed class ConnectionActorPropsSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public void The_handshake_actor_props_are_made_without_an_expression_tree()
    {
        var props = HandshakeActor.Props(null!, new PeerOrigin.Inbound(null!), ActorRefs.Nobody);

        Assert.Equal(typeof(HandshakeActor), props.Type);
        Assert.Empty(props.Arguments);
    }

    [Fact]
    public void The_peer_actor_props_are_made_without_an_expression_tree()
    {
        var id = NodeKey.Generate().Id;
        var info = NodeInfoModel.Create(id, "tcp://127.0.0.1:26656", "test-net", "remote", [0x42]);
        var handle = new PeerHandle(id, info, isOutbound: false, isPersistent: false, new IPEndPoint(IPAddress.Loopback, 40000), null, ActorRefs.Nobody);

        var props = PeerActor.Props(null!, handle, null!, ActorRefs.Nobody);

        Assert.Equal(typeof(PeerActor), props.Type);
        Assert.Empty(props.Arguments);
    }

    [Fact]
    public void Props_from_an_expression_tree_carry_their_arguments()
    {
        // What the two specs above tell apart: the form the factory replaces.
        var props = Props.Create(() => new Recorder(TestActor, "made"));

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
