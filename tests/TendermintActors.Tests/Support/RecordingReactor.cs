using Akka.Actor;
using TendermintActors.Peers;

namespace TendermintActors.Tests.Support;

/// <summary>A reactor that forwards every event to a probe (and acknowledges, as every ReactorActor does).</summary>
public sealed class RecordingReactor : ReactorActor
{
    public RecordingReactor(IActorRef probe)
    {
        Receive<Reactor.IEvent>(e => probe.Tell(e));
    }

    public static Props Props(IActorRef probe) => Akka.Actor.Props.Create(() => new RecordingReactor(probe));
}
