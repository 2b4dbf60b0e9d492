using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Event;
using TendermintActors.Metrics;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Hosting.Internal;

/// <summary>
/// The node root (see <see cref="P2PNode"/>). States: <see cref="Running"/> → <see cref="Stopping"/> (the switch closes
/// its peers gracefully) → stopped.
/// </summary>
internal sealed class P2PNodeActor : UntypedActor, IWithTimers
{
    private const string StopTimer = "stop";

    private sealed record StopTimedOut;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly P2PNodeHandle _handle;
    private readonly TimeSpan _stopTimeout;
    private readonly Dictionary<IActorRef, string> _children = [];
    private readonly Dictionary<IActorRef, Exception> _failures = []; // children stopped by supervision, until Terminated
    private readonly HashSet<IActorRef> _subscribers = [];

    public P2PNodeActor(NodeKey key, SwitchSettings settings, IReadOnlyList<ReactorRegistration> reactors, IP2PTransport transport,
        P2PMetrics? metrics, PexOptions? pex)
    {
        IActorRef? book = null, pexReactor = null;
        if (pex is not null)
        {
            book = Child(AddrBook.Props(pex.AddrBook), P2PNode.AddrBookName);
            // PEX reaches the switch through this node, which forwards switch commands: the switch cannot be created
            // before PEX, whose registration it is given.
            pexReactor = Child(PexReactor.Props(pex.Reactor, book, Self), P2PNode.PexName);
            reactors = [new ReactorRegistration(P2PNode.PexName, pexReactor, [PexReactor.Descriptor]), .. reactors];
        }
        var sw = Child(Switch.Props(key, settings, reactors, transport, metrics), P2PNode.SwitchName);
        _handle = new P2PNodeHandle(key.Id, Self, sw, book, pexReactor);
        _stopTimeout = settings.HandshakeTimeout < TimeSpan.FromSeconds(10) ? TimeSpan.FromSeconds(10) : settings.HandshakeTimeout;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private IActorRef Child(Props props, string name)
    {
        var child = Context.ActorOf(props, name);
        Context.Watch(child);
        _children[child] = name;
        return child;
    }

    protected override SupervisorStrategy SupervisorStrategy() => new StopAndRecord(_failures);

    protected override void OnReceive(object message) => Running(message);

    private void Running(object message)
    {
        switch (message)
        {
            case P2PNode.Stop stop:
                BeginStop(stop.Timeout);
                break;
            case Terminated terminated:
                OnChildTerminated(terminated.ActorRef);
                break;
            default:
                Common(message);
                break;
        }
    }

    private void Stopping(object message)
    {
        switch (message)
        {
            case Switch.ShutdownComplete when Sender.Equals(_handle.Switch):
            case StopTimedOut:
                Context.Stop(Self);
                break;
            case P2PNode.Stop:
                break; // stopping already
            case Terminated terminated:
                if (_children.Remove(terminated.ActorRef, out var name))
                    ReportFailure(terminated.ActorRef, name);
                if (terminated.ActorRef.Equals(_handle.Switch))
                    Context.Stop(Self); // no peers left to close
                break;
            default:
                Common(message);
                break;
        }
    }

    private void Common(object message)
    {
        switch (message)
        {
            case Switch.ICommand command:
                _handle.Switch.Forward(command);
                break;
            case P2PNode.GetHandle:
                Sender.Tell(_handle);
                break;
            case P2PNode.Subscribe subscribe:
                if (_subscribers.Add(subscribe.Subscriber))
                    Context.Watch(subscribe.Subscriber);
                break;
            case Terminated terminated:
                _subscribers.Remove(terminated.ActorRef);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnChildTerminated(IActorRef actor)
    {
        if (!_children.Remove(actor, out var name))
        {
            _subscribers.Remove(actor);
            return;
        }
        if (!ReportFailure(actor, name))
            _log.Warning("P2P node: its {0} stopped; stopping the node", name);
        if (actor.Equals(_handle.Switch))
            Context.Stop(Self);
        else
            BeginStop(_stopTimeout);
    }

    /// <summary>Logs and publishes the failure that stopped the child, if one did; false when it stopped without one.</summary>
    private bool ReportFailure(IActorRef actor, string name)
    {
        if (!_failures.Remove(actor, out var reason)) return false;
        _log.Error(reason, "P2P node: its {0} failed ({1}); stopping the node", name, reason.Message);
        foreach (var subscriber in _subscribers)
            subscriber.Tell(new P2PNode.ChildFailed(name, reason));
        return true;
    }

    private void BeginStop(TimeSpan timeout)
    {
        _handle.Switch.Tell(new Switch.Shutdown(timeout));
        Timers.StartSingleTimer(StopTimer, new StopTimedOut(), timeout + TimeSpan.FromSeconds(1));
        Become(Stopping);
    }

    /// <summary>
    /// Stops a failing child rather than restarting it, and records why for its <see cref="Terminated"/>. Runs on the
    /// node's own thread (supervision is handled in the parent's cell), so the record needs no lock.
    /// </summary>
    private sealed class StopAndRecord(Dictionary<IActorRef, Exception> failures) : OneForOneStrategy(_ => Directive.Stop)
    {
        public override void ProcessFailure(IActorContext context, bool restart, IActorRef child, Exception cause,
            ChildRestartStats stats, IReadOnlyCollection<ChildRestartStats> children)
        {
            failures[child] = cause;
            base.ProcessFailure(context, restart, child, cause, stats, children);
        }

        // The node logs the failure itself, with the child's name.
        protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive)
        {
        }
    }
}
