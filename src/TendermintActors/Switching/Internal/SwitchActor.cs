using System.Net;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Peers;
using TendermintActors.Peers.Internal;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Switch;
using TendermintActors.Logging;
using TendermintActors.Transport;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Switching;

/// <summary>The switch's actor (see <see cref="Switch"/>). Owns the peer set; every decision is made here.</summary>
internal sealed partial class SwitchActor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    // From handshake actors (PeerUpgraded, PeerEnded) and peer actors (PeerEnded).
    public sealed record PeerUpgraded(IActorRef Actor, PeerHandle Candidate, UpgradedConnection Connection);
    public sealed record PeerEnded(IActorRef Actor, NodeId? Id, PeerHandle? Handle, NetAddress? Dialled, bool Persistent, bool WasAdmitted, PeerStopReason Reason) : IDeadLetterSuppression;

    // From the listener's stream (see Listen).
    internal sealed record ListenerReady : IDeadLetterSuppression
    {
        public static readonly ListenerReady Instance = new();
    }
    internal sealed record ConnectionTaken
    {
        public static readonly ConnectionTaken Instance = new();
    }
    internal sealed record ListenerEnded(Exception? Error) : IDeadLetterSuppression; // the switch may be gone first

    private sealed record Bound(TransportBinding Binding);
    private sealed record BindFailed(Exception Error);
    private sealed record FilterDecision(PeerUpgraded Upgraded, string? Rejection);
    private sealed record Redial(NetAddress Address);
    private sealed record ShutdownTimedOut;

    private sealed class Connection(PeerOrigin origin, Protocol.Switch.HandshakeSlot slot)
    {
        /// <summary>The address we dialled (outbound only). Not the origin: an inbound one holds the transport's flow, which the peer no longer needs.</summary>
        public NetAddress? Dialled { get; } = (origin as PeerOrigin.Outbound)?.Address;
        /// <summary>The inbound handshake slot, held until the upgrade ends one way or the other.</summary>
        public Protocol.Switch.HandshakeSlot Slot { get; set; } = slot;
    }

    private readonly NodeKey _key;
    private readonly Switch.Settings _settings;
    private readonly IReadOnlyList<ReactorRegistration> _reactors;
    private readonly IP2PTransport _transport;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IReadOnlyList<ChannelDescriptor> _channels;
    private readonly Dictionary<byte, IActorRef> _reactorsByChannel = new();
    private readonly Dictionary<NodeId, PeerHandle> _peers = new();
    private readonly Dictionary<IActorRef, Connection> _connections = new();
    private readonly Dictionary<NodeId, NetAddress> _dialling = new();
    private readonly Dictionary<NodeId, NetAddress> _persistent = new();
    /// <summary>The settings' unconditional IDs and those RPC's dial_peers added; the admission policy reads this set.</summary>
    private readonly HashSet<NodeId> _unconditional = new();
    private readonly Dictionary<NodeId, int> _redialAttempts = new();
    private readonly Dictionary<NodeId, PeerUpgraded> _replacing = new();
    /// <summary>
    /// Admissions waiting for the peer actor name (<see cref="PeerActor.Name"/>) of a peer that has ended but whose
    /// actor has not yet terminated: a crossing connection replacing it, or a quick reconnect.
    /// </summary>
    private readonly Dictionary<string, List<PeerUpgraded>> _awaitingName = new();
    private long _handshakes;
    private readonly HashSet<string> _ourAddresses = new();
    private readonly List<IActorRef> _subscribers = new();
    private readonly Random _random = new();
    private TransportBinding? _binding;
    private IMaterializer? _materializer;
    private IMaterializer Materializer => _materializer ??= Context.Materializer();
    // The lower part of each connection (transport and SecretConnection) outlives its handshake actor, which hands it
    // over to the peer actor; it ends through its kill switch or the peer's stream (see HandshakeActor).
    private readonly IMaterializer _peerMaterializer = Context.System.Materializer(namePrefix: "peer");
    private NodeInfoModel? _nodeInfo;
    private PeerContext? _peerContext;

    private readonly Metrics.P2PMetrics? _metrics;

    public SwitchActor(NodeKey key, Switch.Settings settings, IReadOnlyList<ReactorRegistration> reactors, IP2PTransport transport,
        Metrics.P2PMetrics? metrics)
    {
        _metrics = metrics;
        _key = key;
        _settings = settings;
        _reactors = reactors;
        _transport = transport;
        // Switch.Props has checked the channels (each valid, each owned once) with the rest of the node info.
        var channels = new List<ChannelDescriptor>();
        foreach (var registration in reactors)
        {
            foreach (var channel in registration.Channels)
            {
                _reactorsByChannel[channel.Id] = registration.Reactor;
                channels.Add(channel);
            }
        }
        _channels = channels;
        foreach (var address in settings.PersistentPeers)
            _persistent[address.Id] = address;
        InitPolicies();
        InitBudget();
    }

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    // Peers own sockets: a failing one is stopped, never restarted.
    protected override SupervisorStrategy SupervisorStrategy() => Akka.Actor.SupervisorStrategy.StoppingStrategy;

    // Told of each admitted peer; null when gc-after-peer-burst is off.
    private IActorRef? _burstCollector;

    protected override void PreStart()
    {
        // Not named "...-peer-...": the soak benchmark counts peer streams by that (Bench/SoakTarget.cs).
        if (_settings.GcAfterPeerBurst.MinPeers > 0)
            _burstCollector = Context.ActorOf(PeerBurstCollector.Props(_settings.GcAfterPeerBurst), "burst-collector");
        if (_settings.GcWhenIdle.MinAllocatedBytes > 0)
            Context.ActorOf(IdleCollector.Props(_settings.GcWhenIdle), "idle-collector");
        // Akka's default scheduler starts its clock on first use, and every caller waits until the clock's task has run
        // on the thread pool. Left to the first burst of inbound connections, each handshake stage scheduling its
        // timeout from a pool thread, those waits could hold every pool thread, the clock's task queued behind them,
        // for seconds until the pool had added enough threads (docs/performance.md, "Handshakes per second").
        // Start it now.
        Context.System.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, static () => { });
        if (_settings.ListenHost is null)
        {
            Self.Tell(new Bound(new TransportBinding(new IPEndPoint(IPAddress.Any, 0), () => Task.CompletedTask)));
            _listening = false;
        }
        else
        {
            var self = Self;
            Listen(_transport.Bind(_settings.ListenHost, _settings.ListenPort), Self, Materializer)
                .ContinueWith(t => self.Tell(t.IsCompletedSuccessfully ? new Bound(t.Result) : new BindFailed(t.Exception!.GetBaseException())),
                    TaskContinuationOptions.ExecuteSynchronously);
        }
        Become(Starting);
    }

    private bool _listening = true;

    /// <summary>
    /// Runs the listener into <paramref name="switch"/> one connection per demand: it gets <see cref="ListenerReady"/>,
    /// then each connection, and answers each with <see cref="ConnectionTaken"/> once it has taken it (handed it to a
    /// handshake slot, or closed it); only then is the next one accepted. With the sink's input buffer at one, the
    /// listener is at most one connection ahead of the switch; the rest wait in the transport (the kernel's backlog,
    /// for TCP). Sink.ActorRef, by contrast, takes all the listener accepts, however busy the switch.
    /// </summary>
    internal static Task<TransportBinding> Listen(Source<TransportConnection, Task<TransportBinding>> listener, IActorRef @switch,
        IMaterializer materializer) =>
        listener
            .ToMaterialized(Sink.ActorRefWithAck<TransportConnection>(@switch, ListenerReady.Instance, ConnectionTaken.Instance,
                    new ListenerEnded(null), e => new ListenerEnded(e))
                .WithAttributes(Attributes.CreateInputBuffer(1, 1)), Keep.Left)
            .Run(materializer);

    protected override void OnReceive(object message) => Unhandled(message);

    private void Starting(object message)
    {
        switch (message)
        {
            case Bound bound:
                _binding = bound.Binding;
                _nodeInfo = BuildNodeInfo(bound.Binding.LocalAddress);
                _peerContext = new PeerContext(_key, _nodeInfo, _channels, _reactorsByChannel,
                    _reactors.Select(r => r.Reactor).Distinct().ToList(), _settings, _transport, _peerMaterializer, _metrics)
                {
                    PeerLog = new BusLogging(Context.System.EventStream, Self.Path + "/peer", typeof(PeerActor), Context.System.Settings.LogFormatter),
                };
                _log.Info("P2P switch {NodeId} started; listening on {Listen}, advertising {Advertised}", _key.Id.Hex,
                    _listening ? bound.Binding.LocalAddress.ToString() : "(not listening)", _nodeInfo.ListenAddr);
                Become(Running);
                foreach (var address in _settings.PersistentPeers)
                    After(("start-dial", address.Id), new Redial(address), Jitter(_settings.DialStartJitter));
                // After the dials are scheduled, so that whoever hears this may move a test clock past them.
                foreach (var subscriber in _subscribers)
                    subscriber.Tell(new Switch.Listening(_nodeInfo, _listening ? _binding.LocalAddress : null));
                Stash.UnstashAll();
                break;
            case BindFailed failed:
                // Stop rather than throw: a restarted switch would try the same port again, forever. Whoever started
                // it watches it or subscribes (the node process reports it and exits). The error's message says it
                // all ("address already in use"): no stack trace.
                var listen = NetAddress.FormatHostPort(_settings.ListenHost!, _settings.ListenPort);
                // The transport's error usually wraps the socket's, whose message is the reason itself.
                var reason = failed.Error.GetBaseException().Message;
                _log.Error("P2P switch cannot listen on {Listen}: {Error}; stopping", listen, reason);
                foreach (var subscriber in _subscribers)
                    subscriber.Tell(new Switch.ListenFailed(listen, failed.Error));
                Context.Stop(Self);
                break;
            case Switch.Subscribe subscribe:
                _subscribers.Add(subscribe.Subscriber);
                Context.Watch(subscribe.Subscriber);
                break;
            default:
                // The listener's ListenerReady too: no connection is accepted before the switch runs.
                Stash.Stash();
                break;
        }
    }

    private NodeInfoModel BuildNodeInfo(EndPoint bound)
    {
        var listen = _settings.ExternalAddress is { Length: > 0 } external
            ? external
            : bound switch
            {
                IPEndPoint ip => NetAddress.FormatHostPort(ip.Address.ToString(), ip.Port),
                DnsEndPoint dns => NetAddress.FormatHostPort(dns.Host, dns.Port),
                _ => bound.ToString()!,
            };
        return NodeInfoModel.Create(_key.Id, "tcp://" + listen, _settings.Network, _settings.Moniker,
            _channels.Select(c => c.Id), _settings.Version, _settings.ProtocolVersion, _settings.TxIndex, _settings.RpcAddress);
    }

    private TimeSpan Jitter(TimeSpan max) => max <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromTicks((long)(_random.NextDouble() * max.Ticks));

    private void Running(object message)
    {
        switch (message)
        {
            case ListenerReady:
                Sender.Tell(ConnectionTaken.Instance);
                break;
            case TransportConnection connection: // from the listener (see Listen)
                OnInbound(connection);
                Sender.Tell(ConnectionTaken.Instance);
                break;
            case Switch.DialPeers dial:
                foreach (var address in dial.Addresses)
                {
                    if (dial.Unconditional) _unconditional.Add(address.Id);
                    if (dial.Persistent) _persistent[address.Id] = address;
                    Dial(address, dial.Persistent || _persistent.ContainsKey(address.Id));
                }
                break;
            case Redial redial:
                if (!_peers.ContainsKey(redial.Address.Id) && !_dialling.ContainsKey(redial.Address.Id))
                    Dial(redial.Address, _persistent.ContainsKey(redial.Address.Id));
                break;
            case PeerUpgraded upgraded:
                OnUpgraded(upgraded);
                break;
            case FilterDecision decision:
                if (decision.Rejection is null)
                    Admit(decision.Upgraded);
                else
                    Refuse(decision.Upgraded.Actor, new PeerStopReason("rejected/filter", decision.Rejection));
                break;
            case PeerEnded ended:
                OnPeerEnded(ended);
                break;
            case BufferedBytes buffered:
                OnBufferedBytes(buffered);
                break;
            case BudgetDeadline:
                OnBudgetDeadline();
                break;
            case Terminated terminated when _connections.ContainsKey(terminated.ActorRef):
                // A peer actor that died without reporting (it should not happen): forget it all the same.
                OnPeerEnded(new PeerEnded(terminated.ActorRef, null, null, null, false, false, PeerStopReason.Stopped("peer actor terminated")));
                break;
            case Terminated terminated when _awaitingName.Remove(terminated.ActorRef.Path.Name, out var waiting):
                // The name is free: the first waiting admission takes it; the admission rules decide the rest.
                foreach (var upgraded in waiting)
                    Admit(upgraded);
                break;
            case Terminated terminated:
                _subscribers.Remove(terminated.ActorRef);
                break;
            case Switch.Broadcast broadcast:
                foreach (var peer in _peers.Values)
                    if (peer.HasChannel(broadcast.Channel))
                        peer.Send(broadcast.Channel, broadcast.Message);
                break;
            case Switch.Shutdown shutdown:
                BeginShutdown(shutdown);
                break;
            case Switch.StopPeer stop:
                if (_peers.TryGetValue(stop.Id, out var handle))
                    handle.Actor.Tell(new Peer.Stop(stop.Reason, stop.Graceful));
                break;
            case Switch.GetPeers:
                Sender.Tell(new Switch.Peers(_peers.Values.ToList()));
                break;
            case Switch.GetNodeInfo:
                Sender.Tell(new Switch.NodeInfoReply(_nodeInfo!, _listening ? _binding!.LocalAddress : null));
                break;
            case Switch.GetDialState dialState:
                Sender.Tell(new Switch.DialState(_peers.Values.ToList(), _dialling.Keys.ToList(), _persistent.Keys.ToHashSet(),
                    _settings.MaxOutboundPeers, _settings.AllowDuplicateIp, dialState.Tag));
                break;
            case Switch.Subscribe subscribe:
                _subscribers.Add(subscribe.Subscriber);
                Context.Watch(subscribe.Subscriber);
                subscribe.Subscriber.Tell(new Switch.Listening(_nodeInfo!, _listening ? _binding!.LocalAddress : null));
                foreach (var peer in _peers.Values)
                    subscribe.Subscriber.Tell(new Switch.PeerConnected(peer));
                break;
            case ListenerEnded ended:
                if (ended.Error is not null)
                    _log.Error("P2P listener failed: {Error}", ended.Error.Message);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnInbound(TransportConnection connection)
    {
        var ip = (connection.RemoteAddress as IPEndPoint)?.Address;
        if (ip is not null && !TryConnectionAttempt(NetAddress.Normalise(ip)))
        {
            _log.Debug("Closing connection from {Addr}: too many attempts from that IP", connection.RemoteAddress);
            Close(connection);
            return;
        }
        if (!_slots.TryAcquire(ip is null ? IPAddress.None : NetAddress.Normalise(ip), out var slot))
        {
            // Go lets surplus connections wait in its accept queue; we close them so nobody stalls.
            _log.Debug("Closing connection from {Addr}: {InProgress} handshakes already in progress", connection.RemoteAddress, _slots.InUse);
            Close(connection);
            return;
        }
        Spawn(new PeerOrigin.Inbound(connection), slot);
    }

    private void Close(TransportConnection connection) =>
        connection.Flow.RunWith(Source.Empty<ByteString>(), Sink.Cancelled<ByteString>(), Materializer);

    private void Dial(NetAddress address, bool persistent)
    {
        if (address.Id == _key.Id || _ourAddresses.Contains(address.HostPort))
        {
            _log.Debug("Not dialling {Addr}: that is us", address);
            return;
        }
        if (_peers.ContainsKey(address.Id) || _dialling.ContainsKey(address.Id))
            return;
        _dialling[address.Id] = address;
        _diallingIds.Add(address.Id);
        Spawn(new PeerOrigin.Outbound(address, persistent), default);
    }

    private void Spawn(PeerOrigin origin, Protocol.Switch.HandshakeSlot slot)
    {
        var actor = Context.ActorOf(HandshakeActor.Props(_peerContext!, origin, Self), "handshake-" + ++_handshakes);
        Context.Watch(actor);
        _connections[actor] = new Connection(origin, slot);
        BudgetHandshakeStarted(actor);
    }

    private void ReleaseSlot(Connection connection)
    {
        if (!connection.Slot.IsHeld) return;
        _slots.Release(connection.Slot);
        connection.Slot = default;
    }

    private void OnUpgraded(PeerUpgraded upgraded)
    {
        var (actor, candidate, _) = upgraded;
        if (!_connections.TryGetValue(actor, out var connection)) return;
        ReleaseSlot(connection);
        BudgetReleased(actor); // the peer actor, if admitted, reports for itself
        if (_peers.TryGetValue(candidate.Id, out var existing) && ShouldReplace(existing, candidate))
        {
            // Crossing dials, each admitted on one side first: keep the one dialled by the lower ID, as the other node
            // does. The candidate waits until the old peer has ended, so reactors hear removed before added.
            _log.Debug("Replacing connection {Connection} to {Peer} by the crossing one dialled by the lower ID", existing.Actor.Path.Name, candidate.Id);
            _replacing[candidate.Id] = upgraded;
            existing.Actor.Tell(new Peer.Stop(new PeerStopReason("replaced",
                "of two crossing connections, the one dialled by the lower ID is kept"), Graceful: false));
            return;
        }
        var refusal = CheckAdmission(candidate);
        if (refusal is not null)
        {
            Refuse(actor, refusal, candidate);
            return;
        }
        if (_settings.PeerFilters.Count == 0)
        {
            Admit(upgraded);
            return;
        }
        RunFilters(upgraded);
    }

    private void RunFilters(PeerUpgraded upgraded)
    {
        var candidate = upgraded.Candidate;
        var self = Self;
        var timeout = _settings.FilterTimeout;
        var filters = _settings.PeerFilters;
        _ = Task.Run(async () =>
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                foreach (var filter in filters)
                {
                    var rejection = await filter(candidate, cts.Token).WaitAsync(timeout, cts.Token).ConfigureAwait(false);
                    if (rejection is not null)
                        return new FilterDecision(upgraded, rejection);
                }
                return new FilterDecision(upgraded, null);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                return new FilterDecision(upgraded, $"filter did not answer within {timeout.TotalSeconds:0.###} s");
            }
            catch (Exception e)
            {
                return new FilterDecision(upgraded, $"filter failed: {e.Message}");
            }
        }).PipeTo(self);
    }

    private void Admit(PeerUpgraded upgraded)
    {
        var (actor, candidate, upgradedConnection) = upgraded;
        if (!_connections.TryGetValue(actor, out var connection)) return; // it ended while filters ran
        // Filters are asynchronous: re-check what may have changed meanwhile.
        var refusal = CheckAdmission(candidate);
        if (refusal is not null)
        {
            Refuse(actor, refusal, candidate);
            return;
        }
        // One peer actor per ID: a peer of this ID that has ended may not have terminated yet (its name is taken
        // until it has). Wait for it; Terminated admits this one then (a live peer of this ID was refused above).
        var name = PeerActor.Name(candidate.Id);
        if (!Context.Child(name).IsNobody())
        {
            if (!_awaitingName.TryGetValue(name, out var waiting))
                _awaitingName[name] = waiting = new List<PeerUpgraded>();
            waiting.Add(upgraded);
            return;
        }
        var peer = Context.ActorOf(PeerActor.Props(_peerContext!, candidate, upgradedConnection, Self), name);
        Context.Watch(peer);
        _burstCollector?.Tell(PeerBurstCollector.PeerAdmitted.Instance);
        candidate = candidate.WithActor(peer);
        // The peer actor owns the connection from here on; the handshake actor stops without a word.
        _connections.Remove(actor);
        Context.Unwatch(actor);
        actor.Tell(new HandshakeActor.HandedOver());
        _connections[peer] = connection;
        _peers[candidate.Id] = candidate;
        _admittedPeers[candidate.Id] = new ConnectedPeer(candidate.Id, candidate.RemoteIp ?? IPAddress.None, candidate.IsOutbound, candidate.IsPersistent);
        _dialling.Remove(candidate.Id);
        _diallingIds.Remove(candidate.Id);
        _redialAttempts.Remove(candidate.Id);
        // Reserve handshake room for the IPs of peers we must always let in (see HandshakeSlots).
        if ((candidate.IsPersistent || _unconditional.Contains(candidate.Id) || _persistent.ContainsKey(candidate.Id))
            && candidate.RemoteIp is { } trustedIp)
            _slots.Trust(candidate.Id, trustedIp);
        foreach (var subscriber in _subscribers)
            subscriber.Tell(new Switch.PeerConnected(candidate));
    }

    private void Refuse(IActorRef actor, PeerStopReason reason, PeerHandle? candidate = null)
    {
        // On loopback every node has the same IP: say once per IP what a local test network must set.
        if (reason.Code == DuplicateIpCode && candidate?.RemoteIp is { } ip && _duplicateIpsLogged.First(NetAddress.Normalise(ip).ToString()))
            _log.Info("Refusing peer {Peer} from {Addr}: {Reason} (logged once per IP; {Hint})", candidate.Id, candidate.RemoteAddress,
                reason.Description, LogOnce.LocalNetworkHint);
        else
            _log.Debug("Refusing connection {Connection} ({Peer}): {Reason}", actor.Path.Name, (object?)candidate?.Id ?? "unknown", reason);
        actor.Tell(new HandshakeActor.Reject(reason));
    }

    private static readonly string DuplicateIpCode =
        "rejected/" + Protocol.Errors.ReasonCode.Kebab(nameof(Protocol.Switch.RejectReason.DuplicateIp));

    private readonly LogOnce _duplicateIpsLogged = new();

    private void OnPeerEnded(PeerEnded ended)
    {
        if (!_connections.Remove(ended.Actor, out var connection)) return;
        BudgetReleased(ended.Actor);
        // Still watched: a peer actor's Terminated frees its name for an admission waiting for it (see Admit).
        ReleaseSlot(connection);
        var dialled = connection.Dialled;
        if (dialled is not null && _dialling.TryGetValue(dialled.Id, out var pending) && pending == dialled)
        {
            _dialling.Remove(dialled.Id);
            _diallingIds.Remove(dialled.Id);
        }
        // Admitted by us, even if the connection ended before it heard so (then reactors never heard of it either).
        var wasPeer = ended.Handle is { } handle && _peers.TryGetValue(handle.Id, out var current) && current.Equals(handle);
        if (wasPeer)
        {
            _peers.Remove(ended.Handle!.Id);
            _admittedPeers.Remove(ended.Handle!.Id);
        }
        if (ended.Id is { } endedId && _replacing.TryGetValue(endedId, out var replacement))
        {
            if (replacement.Actor.Equals(ended.Actor))
                _replacing.Remove(endedId); // the replacement itself ended first
            else if (wasPeer)
            {
                _replacing.Remove(endedId);
                Self.Tell(replacement);
            }
        }

        if (dialled is not null && ended.Reason.Error is NodeInfoRejectedException { Reason: NodeInfoRejection.SelfConnection })
        {
            // Never dial our own address again (Go's AddOurAddress).
            _ourAddresses.Add(dialled.HostPort);
            _persistent.Remove(dialled.Id);
        }
        else if ((ended.Id ?? dialled?.Id) is { } peerId && _persistent.TryGetValue(peerId, out var address) && !_peers.ContainsKey(peerId))
        {
            ScheduleRedial(address, ended.Reason, wasPeer);
        }

        // Subscribers hear of it once the switch's own state (peers, redial timers) reflects it.
        object notice = wasPeer
            ? new Switch.PeerDisconnected(ended.Handle!, ended.Reason)
            : new Switch.ConnectionRejected(ended.Id, dialled, ended.Reason);
        foreach (var subscriber in _subscribers)
            subscriber.Tell(notice);
    }

    private void ScheduleRedial(NetAddress address, PeerStopReason why, bool wasPeer)
    {
        var attempt = _redialAttempts.GetValueOrDefault(address.Id);
        var delay = NextRedialDelay(attempt);
        if (delay is null)
        {
            _log.Warning("Giving up on persistent peer {Peer} after {Redials} redials: {Reason}", address, attempt, why);
            _redialAttempts.Remove(address.Id);
            return;
        }
        _redialAttempts[address.Id] = attempt + 1;
        // One line per attempt, at Info: an operator must see that a persistent peer is unreachable, and why.
        _log.Info(wasPeer
                ? "Persistent peer {Peer} disconnected: {Reason}; redialling in {Delay} at {RetryAt} (attempt {Attempt})"
                : "Could not dial persistent peer {Peer}: {Reason}; redialling in {Delay} at {RetryAt} (attempt {Attempt})",
            address, why, LogOnce.Seconds(delay.Value), LogOnce.At(DateTime.UtcNow + delay.Value), attempt + 1);
        After(("redial", address.Id), new Redial(address), delay.Value);
    }

    private readonly List<IActorRef> _shutdownRequesters = new();

    private void BeginShutdown(Switch.Shutdown shutdown)
    {
        _shutdownRequesters.Add(Sender);
        Timers.CancelAll();
        _binding?.Unbind();
        _persistent.Clear();
        var reason = PeerStopReason.Stopped("node shutting down");
        foreach (var actor in _connections.Keys)
            actor.Tell(new Peer.Stop(reason, Graceful: true));
        Timers.StartSingleTimer("shutdown-timeout", new ShutdownTimedOut(), shutdown.Timeout);
        Become(ShuttingDown);
        CompleteShutdownIfDone();
    }

    private void ShuttingDown(object message)
    {
        switch (message)
        {
            case PeerEnded ended:
                OnPeerEnded(ended);
                CompleteShutdownIfDone();
                break;
            case Terminated terminated when _connections.ContainsKey(terminated.ActorRef):
                OnPeerEnded(new PeerEnded(terminated.ActorRef, null, null, null, false, false, PeerStopReason.Stopped("peer actor terminated")));
                CompleteShutdownIfDone();
                break;
            case SocketsFinished:
                _awaitingSockets = false;
                CompleteShutdownIfDone();
                break;
            case ShutdownTimedOut:
                ReplyShutdown();
                break;
            case Switch.Shutdown again:
                _shutdownRequesters.Add(Sender);
                // Asked again after an answer went out, no timer runs: this asker's timeout bounds the wait (while the
                // first asker's timer runs, that one does).
                if (!Timers.IsTimerActive("shutdown-timeout"))
                    Timers.StartSingleTimer("shutdown-timeout", new ShutdownTimedOut(), again.Timeout);
                CompleteShutdownIfDone();
                break;
            case TransportConnection connection:
                Close(connection);
                Sender.Tell(ConnectionTaken.Instance);
                break;
            case ListenerReady:
                Sender.Tell(ConnectionTaken.Instance);
                break;
            case Switch.GetPeers:
                Sender.Tell(new Switch.Peers(_peers.Values.ToList()));
                break;
            case Switch.GetNodeInfo:
                Sender.Tell(new Switch.NodeInfoReply(_nodeInfo!, null));
                break;
            case PeerUpgraded upgraded:
                Refuse(upgraded.Actor, PeerStopReason.Stopped("node shutting down"));
                break;
            case Terminated terminated:
                _subscribers.Remove(terminated.ActorRef);
                break;
            default:
                // Dials, broadcasts and the rest are moot while shutting down.
                break;
        }
    }

    private sealed record SocketsFinished
    {
        public static readonly SocketsFinished Instance = new();
    }

    // A continuation of UnfinishedSockets.WhenNone will tell SocketsFinished.
    private bool _awaitingSockets;

    private int UnfinishedSocketCount => _peerContext?.UnfinishedSockets.Count ?? 0;

    /// <summary>
    /// Answers once every connection has ended and every socket's FIN is out: a peer ends as soon as its MConnection
    /// has handed over its last bytes, which its socket may still be writing, and stopping the system then would
    /// reset the connection instead of closing it.
    /// </summary>
    private void CompleteShutdownIfDone()
    {
        if (_connections.Count > 0 || _shutdownRequesters.Count == 0) return;
        if (UnfinishedSocketCount == 0)
        {
            ReplyShutdown();
            return;
        }
        if (_awaitingSockets) return;
        _awaitingSockets = true;
        var self = Self;
        _peerContext!.UnfinishedSockets.WhenNone()
            .ContinueWith(_ => self.Tell(SocketsFinished.Instance), TaskContinuationOptions.ExecuteSynchronously);
    }

    private void ReplyShutdown()
    {
        Timers.Cancel("shutdown-timeout");
        foreach (var requester in _shutdownRequesters)
            requester.Tell(new Switch.ShutdownComplete(_connections.Count, UnfinishedSocketCount));
        _shutdownRequesters.Clear();
    }

    /// <summary>A timer, except that no delay means now (a zero timer would still wait for a scheduler tick).</summary>
    private void After(object key, object message, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
            Self.Tell(message);
        else
            Timers.StartSingleTimer(key, message, delay);
    }

    protected override void PostStop()
    {
        _binding?.Unbind();
    }
}
