using Akka.Actor;
using TendermintActors.Peers;

namespace TendermintActors.Tests.Support;

/// <summary>Reactors that tell a probe of each event and then throw on every message: the base must still acknowledge.</summary>
public static class ThrowingReactors
{
    public sealed class Typed : ReactorActor
    {
        public Typed(IActorRef probe)
        {
            Receive<Reactor.Received>(e =>
            {
                probe.Tell(e);
                throw new InvalidOperationException("handler failed (on purpose)");
            });
            Receive<Reactor.IEvent>(e => probe.Tell(e));
        }
    }

    /// <summary>Stashes messages until told to <see cref="Open"/>, then tells the probe of each and throws.</summary>
    public sealed class Untyped(IActorRef probe) : UntypedReactorActor, IWithUnboundedStash
    {
        public sealed record Open;

        public IStash Stash { get; set; } = null!;

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case Open:
                    Become(Opened);
                    Stash.UnstashAll();
                    break;
                case Reactor.Received:
                    Stash.Stash();
                    break;
                case Reactor.IEvent e:
                    probe.Tell(e);
                    break;
            }
        }

        private void Opened(object message)
        {
            if (message is Reactor.IEvent e) probe.Tell(e);
            if (message is Reactor.Received) throw new InvalidOperationException("handler failed (on purpose)");
        }
    }

    public static Props Props(bool untyped, IActorRef probe) =>
        untyped ? Akka.Actor.Props.Create(() => new Untyped(probe)) : Akka.Actor.Props.Create(() => new Typed(probe));
}
