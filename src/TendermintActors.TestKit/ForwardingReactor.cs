using Akka.Actor;
using TendermintActors.Peers;

namespace TendermintActors.TestKit;

/// <summary>The probe peer's reactor: hands every event to the spec's probe (and acknowledges, as ReactorActor does).</summary>
internal sealed class ForwardingReactor : ReactorActor
{
    public ForwardingReactor(IActorRef probe)
    {
        Receive<Reactor.IEvent>(e => probe.Tell(e));
    }

    public static Props Props(IActorRef probe) => Akka.Actor.Props.Create(() => new ForwardingReactor(probe));
}
