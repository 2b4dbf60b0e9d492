using Akka.Actor;

namespace TendermintActors.Peers.Internal;

/// <summary>
/// Props for an actor made once per connection, by a plain call to its constructor.
/// </summary>
/// <remarks>
/// <c>Props.Create(() =&gt; new T(...))</c> makes an expression tree at every call, reads each argument out of it by
/// reflection, and Akka then finds the constructor again by reflection when it makes the actor: garbage and CPU that
/// a burst of handshakes pays for every connection, and, natively compiled, pages of reflection data the first
/// connections touch (docs/performance.md, "Where a connection's garbage comes from"). The props keep the arguments
/// they are given, as <c>Props.Create</c> keeps what it read (so <see cref="Akka.Actor.Props.Arguments"/> still says
/// what the actor was made with), but the actor is made by <c>make</c> alone. Akka calls it again only to restart the
/// actor, which the switch never does to a connection's actors.
/// </remarks>
internal sealed class ActorFactory<TActor>(Func<TActor> make) : IIndirectActorProducer where TActor : ActorBase
{
    public Type ActorType => typeof(TActor);

    public ActorBase Produce() => make();

    public void Release(ActorBase actor) { }

    public static Props Props(Func<TActor> make, params object[] arguments) =>
        Akka.Actor.Props.CreateBy(new ActorFactory<TActor>(make), arguments);
}
