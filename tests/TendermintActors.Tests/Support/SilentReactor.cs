using Akka.Actor;
using TendermintActors.Peers;

namespace TendermintActors.Tests.Support;

/// <summary>
/// A slow reactor: it takes messages but acknowledges them only when told to (a plain actor, not a ReactorActor),
/// so the peer's receive buffer for its channel fills up.
/// </summary>
public sealed class SilentReactor : ReceiveActor
{
    public sealed record AckAll;

    public SilentReactor(IActorRef probe)
    {
        var pending = new List<Reactor.Received>();
        Receive<Reactor.Received>(r =>
        {
            pending.Add(r);
            probe.Tell(r);
        });
        Receive<Reactor.IEvent>(e => probe.Tell(e));
        Receive<AckAll>(_ =>
        {
            foreach (var r in pending) r.Ack();
            pending.Clear();
        });
    }

    public static Props Props(IActorRef probe) => Akka.Actor.Props.Create(() => new SilentReactor(probe));
}
