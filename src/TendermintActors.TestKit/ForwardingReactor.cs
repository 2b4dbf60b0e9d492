using Akka.Actor;
using TendermintActors.Peers;

namespace TendermintActors.TestKit;

/// <summary>
/// The probe peer's reactor: hands every event to the spec's probe and acknowledges it, unless the spec asked it
/// to stop reading; then it holds what arrives unacknowledged, which stalls the probe's connection as a slow
/// reactor would.
/// </summary>
internal sealed class ForwardingReactor : ReceiveActor
{
    public sealed record StopReading;

    public sealed record ResumeReading;

    private readonly List<Reactor.Received> _held = new();
    private bool _reading = true;

    public ForwardingReactor(IActorRef probe)
    {
        Receive<StopReading>(_ => _reading = false);
        Receive<ResumeReading>(_ =>
        {
            _reading = true;
            foreach (var r in _held) r.Ack();
            _held.Clear();
        });
        Receive<Reactor.Received>(r =>
        {
            probe.Tell(r);
            if (_reading) r.Ack();
            else _held.Add(r);
        });
        Receive<Reactor.IEvent>(e => probe.Tell(e));
    }

    public static Props Props(IActorRef probe) => Akka.Actor.Props.Create(() => new ForwardingReactor(probe));
}
