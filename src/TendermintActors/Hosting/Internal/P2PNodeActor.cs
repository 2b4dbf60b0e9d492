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
    private P2PNodeHandle _handle;
    private Switch.ListenFailed? _listenFailed;
    private bool _listening;
    private readonly List<IActorRef> _awaitingHandle = [];
    private readonly IActorRef _listenWatcher;
    private bool _listenWatcherAlive = true;
    private bool _switchGone;
    private readonly TimeSpan _stopTimeout;
    private readonly string _listenAddress;
    private readonly Dictionary<IActorRef, string> _children = [];
    private readonly Dictionary<IActorRef, Exception> _failures = []; // children stopped by supervision, until Terminated
    private readonly HashSet<IActorRef> _subscribers = [];

    public P2PNodeActor(NodeKey key, Switch.Settings settings, IReadOnlyList<ReactorRegistration> reactors, IP2PTransport transport,
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
        // First in the switch's mailbox, so that the node hears whether it listens (GetHandle waits for that). A child
        // that stops once it knows subscribes rather than the node, so that the switch drops the subscription then
        // (the node would otherwise hear of every peer, and its last ones as dead letters while the system stops).
        _listenWatcher = Context.ActorOf(Akka.Actor.Props.Create(() => new ListenWatcher(sw)), "listen-watcher");
        Context.Watch(_listenWatcher);
        sw.Tell(new Switch.Subscribe(_listenWatcher));
        _handle = new P2PNodeHandle(key.Id, Self, sw, book, pexReactor, null);
        _listenAddress = settings.ListenHost is { } host ? NetAddress.FormatHostPort(host, settings.ListenPort) : "(no listen address)";
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
            case Terminated terminated when terminated.ActorRef.Equals(_listenWatcher):
                OnListenWatcherTerminated();
                break;
            case Terminated terminated:
                if (_children.Remove(terminated.ActorRef, out var name))
                    ReportFailure(terminated.ActorRef, name);
                if (terminated.ActorRef.Equals(_handle.Switch))
                    OnSwitchGone(); // no peers left to close
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
                if (_listening) Sender.Tell(_handle);
                else if (_listenFailed is { } failed) Sender.Tell(ListenFailure(failed));
                else _awaitingHandle.Add(Sender);
                break;
            case Switch.Listening listening when Sender.Equals(_handle.Switch):
                _listening = true;
                _handle = _handle with { ListenAddress = listening.ListenAddress };
                AnswerAwaiting(_handle);
                break;
            case Switch.ListenFailed failed when Sender.Equals(_handle.Switch):
                _listenFailed = failed;
                AnswerAwaiting(ListenFailure(failed));
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

    private static Status.Failure ListenFailure(Switch.ListenFailed failed) =>
        new(new IOException($"cannot listen on {failed.ListenAddress}: {failed.Reason}", failed.Error));

    private void AnswerAwaiting(object answer)
    {
        foreach (var asker in _awaitingHandle)
            asker.Tell(answer);
        _awaitingHandle.Clear();
    }

    // A switch that fails to bind before the watcher's subscription reaches it stops without telling why.
    protected override void PostStop() =>
        AnswerAwaiting(new Status.Failure(new IOException($"cannot listen on {_listenAddress}: the P2P node stopped before its switch listened")));

    private void OnChildTerminated(IActorRef actor)
    {
        if (actor.Equals(_listenWatcher))
        {
            OnListenWatcherTerminated();
            return;
        }
        if (!_children.Remove(actor, out var name))
        {
            _subscribers.Remove(actor);
            return;
        }
        if (!ReportFailure(actor, name))
            _log.Warning("P2P node: its {0} stopped; stopping the node", name);
        if (actor.Equals(_handle.Switch))
            OnSwitchGone();
        else
            BeginStop(_stopTimeout);
    }

    private void OnSwitchGone()
    {
        _switchGone = true;
        // A switch that cannot listen tells the watcher why, then stops; the watcher's Terminated comes after what it
        // forwarded, so waiting for it lets GetHandle's askers learn the reason.
        if (!_listenWatcherAlive) Context.Stop(Self);
    }

    private void OnListenWatcherTerminated()
    {
        _listenWatcherAlive = false;
        if (_switchGone) Context.Stop(Self);
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
    /// Hands the switch's first Listening or ListenFailed to the node (the switch as sender), then stops; stops too when
    /// the switch does without either.
    /// </summary>
    private sealed class ListenWatcher(IActorRef @switch) : UntypedActor
    {
        protected override void PreStart() => Context.Watch(@switch);

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case Switch.Listening or Switch.ListenFailed:
                    Context.Parent.Forward(message);
                    Context.Stop(Self);
                    break;
                case Terminated:
                    Context.Stop(Self);
                    break;
            }
        }
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
