using System.Net;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Switching;
using TendermintActors.Transport;
using TendermintActors.Transport.Internal;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Peers.Internal;

/// <summary>Where a connection came from.</summary>
internal abstract record PeerOrigin
{
    public sealed record Inbound(TransportConnection Connection) : PeerOrigin;

    public sealed record Outbound(NetAddress Address, bool Persistent) : PeerOrigin;
}

/// <summary>Everything a peer actor needs that the switch decides once.</summary>
internal sealed record PeerContext(
    NodeKey LocalKey,
    NodeInfoModel LocalNodeInfo,
    IReadOnlyList<ChannelDescriptor> Channels,
    IReadOnlyDictionary<byte, IActorRef> ReactorsByChannel,
    IReadOnlyList<IActorRef> Reactors,
    Switch.Settings Settings,
    IP2PTransport Transport,
    IMaterializer Materializer,
    Metrics.P2PMetrics? Metrics)
{
    /// <summary>
    /// Every peer's MConnection, fused once (materialising an unfused graph fuses it again for each peer). Lent output:
    /// the handover takes each write to the SecretConnection and pulls again only once it is sealed.
    /// </summary>
    public MConnectionBlueprint Connection { get; } = new(
        Settings.Connection with { LendOutput = true, ReportBufferedBytes = Settings.MaxBufferedBytes > 0 }, Channels);

    /// <summary>
    /// The peers' logger: one for all of them (a logger of each peer's own, with its path as the source, cost each
    /// ~0.2 KiB); their lines name the peer. Null: each peer makes its own at its first line (specs).
    /// </summary>
    public ILoggingAdapter? PeerLog { get; init; }

    /// <summary>The connection upgrade's settings, but for the ID a dialled remote must prove.</summary>
    public SecretConnectionSettings UpgradeSettings { get; } = new()
    {
        HandshakeTimeout = Settings.HandshakeTimeout,
        MaxWriteBatchBytes = Settings.Connection.MaxWriteBatchBytes,
        // The handover passes each opened read on and pulls again only once the MConnection (which copies what it
        // keeps) is done with it; what it reads ahead before the peer attaches, it copies. The SecretConnection
        // recycles a lent buffer only when pulled again, never when it stops.
        LendPlaintext = true,
        LendCiphertext = Transport.TakesWritesBeforePulling,
    };

    /// <summary>The lower part of every connection over a socket, fused once.</summary>
    public LowerBlueprint Lower => _lower ??= new LowerBlueprint(LocalKey, LocalNodeInfo, UpgradeSettings, UnfinishedSockets);

    /// <summary>
    /// The sockets of <see cref="Lower"/>'s connections whose FIN is not out yet: the switch's shutdown waits for them
    /// (a peer ends before its socket has written its last bytes and its FIN).
    /// </summary>
    public UnfinishedSockets UnfinishedSockets { get; } = new();

    // Made at the first connection over a socket (none on other transports). Handshake actors run at once: two may
    // each make one, and each runs on the one it made.
    private LowerBlueprint? _lower;

    /// <summary>Whether <see cref="Lower"/> was made (specs: only for connections over a socket).</summary>
    internal bool HasLower => _lower is not null;

    /// <summary>Our channels by ID, for every peer.</summary>
    public IReadOnlyDictionary<byte, ChannelDescriptor> ChannelsById { get; } = Channels.ToDictionary(c => c.Id);
}

/// <summary>
/// One peer: an admitted connection, named after the remote's ID (<c>peer-&lt;hex id&gt;</c>). It has the MConnection
/// run over the connection <see cref="HandshakeActor"/> upgraded, on the switch's materializer: in a stream actor of
/// its own, not as this actor's child (which took a materializer per peer). It owns the connection's lifetime
/// (stopping it ends the connection: the socket closes; the connection ending or failing stops it with that reason),
/// and answers the per-channel send accounting and the delivery to reactors. Reactors hear PeerAdded, messages and
/// PeerRemoved from this actor alone, so Akka's per-sender ordering guarantees their order. It owns a socket, so its
/// supervisor stops it; it never restarts.
/// </summary>
internal sealed class PeerActor : UntypedActor
{
    // Internal protocol between the peer and its stream.
    public sealed record Acked(byte Channel) : IDeadLetterSuppression;

    /// <summary>From the switch: the node's buffer budget stops (or resumes) reading from this peer.</summary>
    public sealed record PauseReads(bool Paused) : IDeadLetterSuppression;
    private sealed record SendTimeoutsDue
    {
        public static readonly SendTimeoutsDue Instance = new();
    }

    private readonly PeerContext _ctx;
    private readonly UpgradedConnection _upgraded;
    private readonly IActorRef _switch;
    // What an idle peer never uses is made at its first use: the per-channel queues, the status requesters, the
    // timers (docs/performance.md, "Memory per connection").
    private ILoggingAdapter? _log;
    private Dictionary<byte, Queue<int>>? _queued; // sizes of messages handed to the stage, per channel
    // Sends waiting for room, per channel in arrival order (at most SendQueueCapacity, see MayWait), each with the
    // time it gives up. All wait the same timeout, so each queue's head expires first: one timer for the earliest head
    // serves them all (a timer per send cost a start and a cancel per message on a busy channel).
    private Dictionary<byte, Queue<(DateTimeOffset Deadline, Peer.Send Send)>>? _waiting;
    private ICancelable? _sendTimeoutsTimer; // the timer of SendTimeoutsDue while one is due
    private ICancelable? _endingTimer;
    private readonly IReadOnlyDictionary<byte, ChannelDescriptor> _channels;
    private List<IActorRef>? _statusRequesters;
    private readonly PeerHandle _handle;
    private MConnectionHandle? _connection;
    private Metrics.P2PMetrics.PeerMetrics? _metrics;
    // Bytes queued but not yet added to the pending-send gauge: a message queued behind others is reported with the
    // next MessagesSent (which the stage sends once it writes), so a busy channel costs one gauge update per write.
    private long _unreportedPending;
    private bool _finished;
    // What this peer holds for the node's buffer budget (SwitchActor.Budget.cs): unfinished received messages (as the
    // stage last told) and messages handed to the stage and not yet written; told to the switch by report steps.
    private long _partialReceiveBytes;
    private long _pendingSendBytes;
    private long _bufferedBytesReported;

    public PeerActor(PeerContext ctx, PeerHandle candidate, UpgradedConnection upgraded, IActorRef @switch)
    {
        _ctx = ctx;
        _upgraded = upgraded;
        _switch = @switch;
        _handle = candidate.WithActor(Self);
        _channels = ctx.ChannelsById;
    }

    private ILoggingAdapter Log => _log ??= _ctx.PeerLog ?? Context.GetLogger();

    /// <summary>Whether this peer has made what it makes only when used (specs: an idle peer has not).</summary>
    internal bool HoldsOnlyWhatIdleNeeds =>
        (_log is null || _log == _ctx.PeerLog) && _queued is null && _waiting is null && _statusRequesters is null;

    /// <summary>The name of the peer actor for <paramref name="id"/>; one per ID at a time.</summary>
    public static string Name(NodeId id) => "peer-" + id.Hex;

    /// <remarks>
    /// The props (kept by the actor's cell as long as it lives) keep a handle without the handshake actor that
    /// <paramref name="candidate"/> names: that actor has stopped, and its cell would be kept with it.
    /// </remarks>
    public static Props Props(PeerContext ctx, PeerHandle candidate, UpgradedConnection upgraded, IActorRef @switch)
    {
        var detached = candidate.WithActor(ActorRefs.Nobody);
        return ActorFactory<PeerActor>.Props(() => new PeerActor(ctx, detached, upgraded, @switch), ctx, detached, upgraded, @switch);
    }

    private NetAddress? DialledAddress => _handle.DialledAddress;

    protected override void PreStart()
    {
        // In a stream actor of its own under the switch's materializer, not our child: PostStop ends the connection if
        // we stop first. Its messages to us all come after PeerAdded below.
        _connection = _ctx.Connection.Run(_upgraded.Handover, Self, _ctx.Materializer);

        var added = new Reactor.PeerAdded(_handle);
        foreach (var reactor in _ctx.Reactors)
            reactor.Tell(added);
        _ctx.Metrics?.PeerAdded();
        _metrics = _ctx.Metrics?.ForPeer(_handle.Id.Hex);
        Log.Info("Added peer {Peer} ({Direction}, {Addr})", _handle.Id, _handle.IsOutbound ? "outbound" : "inbound", _handle.RemoteAddress);
    }

    // Running from the start: a Become here would keep a second behaviour delegate for the peer's life.
    protected override void OnReceive(object message) => Running(message);

    private void Running(object message)
    {
        switch (message)
        {
            case MConnection.MessagesReceived received:
                Deliver(received.Messages);
                break;
            case Acked acked:
                _connection!.Ack(acked.Channel);
                break;
            case MConnection.BufferedBytes buffered:
                _partialReceiveBytes = buffered.PartialReceiveBytes;
                ReportBufferedBytes();
                break;
            case PauseReads pause:
                _connection!.PauseReads(pause.Paused);
                break;
            case Peer.TrySend trySend:
                if (!CanSendOn(trySend.Channel) || !HasRoom(trySend.Channel))
                    Reply(trySend.ReplyTo, trySend.Channel, false, trySend.CorrelationId);
                else
                    Enqueue(trySend.Channel, trySend.Message, trySend.ReplyTo, trySend.CorrelationId);
                break;
            case Peer.Send send:
                if (!CanSendOn(send.Channel))
                    Reply(send.ReplyTo, send.Channel, false, send.CorrelationId);
                else if (HasRoom(send.Channel) && _waiting?.ContainsKey(send.Channel) != true)
                    Enqueue(send.Channel, send.Message, send.ReplyTo, send.CorrelationId);
                else if (MayWait(send.Channel))
                    Wait(send);
                else
                    Reply(send.ReplyTo, send.Channel, false, send.CorrelationId); // Switch.Broadcast's sends too
                break;
            case SendTimeoutsDue:
                _sendTimeoutsTimer = null;
                ExpireWaitingSends();
                break;
            case MConnection.MessagesSent sent:
                OnSent(sent.Channel, sent.Count);
                break;
            case MConnection.SendRejected rejected:
                Log.Warning("Peer {Peer}: connection refused a message on channel {Channel} ({Reason})", _handle.Id, $"0x{rejected.Channel:x2}", rejected.Reason);
                break;
            case Peer.GetStatus:
                _statusRequesters ??= new List<IActorRef>();
                if (_statusRequesters.Count == 0) _connection!.RequestStatus();
                _statusRequesters.Add(Sender);
                break;
            case MConnection.Status status:
                var reply = new Peer.Status(_handle, DateTime.UtcNow - _upgraded.StartedAt, status.Connection);
                foreach (var requester in _statusRequesters ?? []) requester.Tell(reply);
                _statusRequesters?.Clear();
                break;
            case Peer.Stop stop:
                // The first stop's reason stands; a stop without flush after a graceful one aborts, and then the
                // end is ours whatever the stream says.
                if (_stopReason is null)
                {
                    _stopReason = stop.Reason;
                    _stopGraceful = stop.Graceful;
                }
                else
                    _stopGraceful &= stop.Graceful;
                _connection!.Close(flushFirst: stop.Graceful);
                if (!stop.Graceful) Abort();
                break;
            case MConnection.Stopped stopped:
                var reason = EndReason(stopped.Reason);
                if (_upgraded.Handover.UpperEnded.IsCompleted)
                {
                    Finish(reason);
                    break;
                }
                // The MConnection has ended, but the handover may still be passing its last write (or its end) to the
                // lower part. Stopping now would kill that and reset the socket instead of closing it in order.
                _ending = reason;
                var self = Self;
                _upgraded.Handover.UpperEnded.ContinueWith(_ => self.Tell(UpperEnded.Instance), TaskContinuationOptions.ExecuteSynchronously);
                _endingTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(EndingGrace, self, UpperEnded.Instance, ActorRefs.NoSender);
                Become(Ending);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Most we wait, after the MConnection ended, for the handover to finish (it is normally a few messages).</summary>
    private static readonly TimeSpan EndingGrace = TimeSpan.FromSeconds(5);

    private sealed record UpperEnded
    {
        public static readonly UpperEnded Instance = new();
    }

    private PeerStopReason? _ending;

    /// <summary>The connection has ended and its last bytes are crossing to the lower part: sends are refused.</summary>
    private void Ending(object message)
    {
        switch (message)
        {
            case UpperEnded:
                Finish(_ending!);
                break;
            case Peer.TrySend trySend:
                Reply(trySend.ReplyTo, trySend.Channel, false, trySend.CorrelationId);
                break;
            case Peer.Send send:
                Reply(send.ReplyTo, send.Channel, false, send.CorrelationId);
                break;
            case Peer.Stop { Graceful: false }:
                Abort();
                break;
        }
    }

    private PeerStopReason? _stopReason;
    private bool _stopGraceful;

    /// <summary>
    /// Ours when we stopped the peer, except that a graceful stop whose connection did not end cleanly (the remote
    /// took no more of what was queued, or the connection failed meanwhile) reports why, so that whoever asked for the
    /// flush learns it may not have happened.
    /// </summary>
    private PeerStopReason EndReason(Exception? streamFailure) => (_stopReason, streamFailure) switch
    {
        ({ }, { } failure) when _stopGraceful => PeerStopReason.FromException(failure),
        ({ } ours, _) => ours,
        (null, null) => PeerStopReason.Closed(),
        (null, { } failure) => PeerStopReason.FromException(failure),
    };

    /// <summary>Hands each message to its channel's reactor; metrics are recorded once per run of one channel.</summary>
    private void Deliver(IReadOnlyList<MConnection.ReceivedMessage> messages)
    {
        var runChannel = -1;
        long runBytes = 0;
        foreach (var (channel, body) in messages)
        {
            if (channel != runChannel)
            {
                if (runChannel >= 0) _metrics?.Received((byte)runChannel, runBytes);
                runChannel = channel;
                runBytes = 0;
            }
            runBytes += body.Length;
            _metrics?.Receiving(channel, body.Span);
            if (_ctx.ReactorsByChannel.TryGetValue(channel, out var reactor))
                reactor.Tell(new Reactor.Received(_handle, channel, body) { Connection = _connection });
            else
                _connection!.Ack(channel); // cannot happen: the stage refuses unknown channels
        }
        if (runChannel >= 0) _metrics?.Received((byte)runChannel, runBytes);
    }

    /// <summary>Go drops messages for channels the remote did not list; we say no to the sender instead.</summary>
    private bool CanSendOn(byte channel) => _channels.ContainsKey(channel) && _handle.HasChannel(channel);

    /// <summary>The scheduler's rule (<see cref="ChannelDescriptor.HasSendRoom"/>), applied to what this actor has handed to the stage.</summary>
    private bool HasRoom(byte channel) =>
        _channels[channel].HasSendRoom(_queued is not null && _queued.TryGetValue(channel, out var queued) ? queued.Count : 0);

    private void Enqueue(byte channel, ReadOnlyMemory<byte> message, IActorRef? replyTo, object? correlationId)
    {
        _queued ??= new Dictionary<byte, Queue<int>>();
        if (!_queued.TryGetValue(channel, out var queued))
            _queued[channel] = queued = new Queue<int>();
        queued.Enqueue(message.Length);
        _pendingSendBytes += message.Length;
        ReportBufferedBytes();
        if (_metrics is { } metrics)
        {
            metrics.Queued(channel, message.Span);
            if (queued.Count == 1)
            {
                metrics.PendingSend(_unreportedPending + message.Length); // a lone message shows at once
                _unreportedPending = 0;
            }
            else
                _unreportedPending += message.Length; // reported with the MessagesSent the messages ahead of it bring
        }
        _connection!.Send(channel, message);
        Reply(replyTo, channel, true, correlationId);
    }

    /// <summary>
    /// Tells the switch's buffer budget what this peer holds, when it moved by a report step since the last report or
    /// dropped to zero: a busy peer costs the switch one message per step, not per message.
    /// </summary>
    private void ReportBufferedBytes()
    {
        if (_finished || _ctx.Settings.MaxBufferedBytes <= 0) return;
        var held = _partialReceiveBytes + _pendingSendBytes;
        var change = Math.Abs(held - _bufferedBytesReported);
        if (change < MConnection.BufferedBytesReportStep && (held != 0 || change == 0)) return;
        _bufferedBytesReported = held;
        _switch.Tell(new SwitchActor.BufferedBytes(held));
    }

    /// <summary>Waiting sends are bounded per channel (<see cref="ChannelDescriptor.HasRoomToWait"/>), like the queue itself.</summary>
    private bool MayWait(byte channel) =>
        _channels[channel].HasRoomToWait(_waiting is not null && _waiting.TryGetValue(channel, out var queue) ? queue.Count : 0);

    /// <summary>The scheduler's clock, so that the send timeout follows Akka's TestScheduler in specs.</summary>
    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private void Wait(Peer.Send send)
    {
        _waiting ??= new Dictionary<byte, Queue<(DateTimeOffset Deadline, Peer.Send Send)>>();
        if (!_waiting.TryGetValue(send.Channel, out var queue))
            _waiting[send.Channel] = queue = new Queue<(DateTimeOffset, Peer.Send)>();
        queue.Enqueue((Now + _ctx.Settings.SendTimeout, send));
        _sendTimeoutsTimer ??= ScheduleSendTimeouts(_ctx.Settings.SendTimeout);
    }

    /// <summary><paramref name="count"/> messages of <paramref name="channel"/> are written: make room for as many waiting sends.</summary>
    private void OnSent(byte channel, int count)
    {
        long bytes = 0;
        if (_queued is not null && _queued.TryGetValue(channel, out var queued))
            for (var i = 0; i < count && queued.TryDequeue(out var size); i++)
                bytes += size;
        _pendingSendBytes -= bytes;
        ReportBufferedBytes();
        if (bytes > 0 && _metrics is { } metrics)
        {
            metrics.Sent(channel, bytes);
            metrics.PendingSend(_unreportedPending - bytes);
            _unreportedPending = 0;
        }
        if (_waiting is null || !_waiting.TryGetValue(channel, out var queue)) return;
        for (var i = 0; i < count && queue.TryDequeue(out var waiting); i++)
            Enqueue(waiting.Send.Channel, waiting.Send.Message, waiting.Send.ReplyTo, waiting.Send.CorrelationId);
        if (queue.Count == 0) _waiting.Remove(channel);
    }

    /// <summary>Answers false to every waiting send whose deadline has passed, then sets the timer for the next one.</summary>
    private void ExpireWaitingSends()
    {
        if (_waiting is null) return;
        var now = Now;
        DateTimeOffset? next = null;
        foreach (var (channel, queue) in _waiting)
        {
            while (queue.TryPeek(out var head) && head.Deadline <= now)
            {
                queue.Dequeue();
                Reply(head.Send.ReplyTo, channel, false, head.Send.CorrelationId);
            }
            if (queue.TryPeek(out var first) && (next is null || first.Deadline < next))
                next = first.Deadline;
            else if (queue.Count == 0)
                _waiting.Remove(channel); // allowed while enumerating a Dictionary
        }
        if (next is { } due)
        {
            _sendTimeoutsTimer?.Cancel();
            _sendTimeoutsTimer = ScheduleSendTimeouts(due - now);
        }
    }

    /// <summary>
    /// The system's scheduler, not an actor timer scheduler (which every actor that has one keeps, with a dictionary,
    /// from its start). A cancelled one may still be delivered: <see cref="ExpireWaitingSends"/> checks the deadlines.
    /// </summary>
    private ICancelable ScheduleSendTimeouts(TimeSpan delay) =>
        Context.System.Scheduler.ScheduleTellOnceCancelable(delay, Self, SendTimeoutsDue.Instance, ActorRefs.NoSender);

    private static void Reply(IActorRef? replyTo, byte channel, bool accepted, object? correlationId) =>
        replyTo?.Tell(new Peer.SendResult(channel, accepted, correlationId));

    private void Abort() => _upgraded.Abort(new PeerStoppedException("peer stopped"));

    private void Finish(PeerStopReason reason, bool stopSelf = true)
    {
        if (_finished) return;
        _finished = true;
        foreach (var (channel, queue) in _waiting ?? [])
            foreach (var (_, send) in queue)
                Reply(send.ReplyTo, channel, false, send.CorrelationId);
        _waiting?.Clear();
        _sendTimeoutsTimer?.Cancel();
        _endingTimer?.Cancel();
        _ctx.Metrics?.PeerRemoved();
        // Everything still queued leaves the gauge, minus what was never added to it.
        var unsent = (_queued?.Values.Sum(q => q.Sum(x => (long)x)) ?? 0) - _unreportedPending;
        if (unsent != 0) _metrics?.PendingSend(-unsent);
        var removed = new Reactor.PeerRemoved(_handle, reason);
        foreach (var reactor in _ctx.Reactors)
            reactor.Tell(removed);
        _ctx.Metrics?.ConnectionEnded(reason.Code, reason.IsError, true);
        // Ordinary ends are not errors: Info for a peer we had.
        if (reason.IsError)
            Log.Warning("Stopping peer {Peer} for error: {Reason}", _handle.Id, reason);
        else
            Log.Info("Stopping peer {Peer}: {Reason}", _handle.Id, reason);
        _switch.Tell(new SwitchActor.PeerEnded(Self, _handle.Id, _handle, DialledAddress, _handle.IsPersistent, true, reason));
        if (stopSelf) Context.Stop(Self);
    }

    protected override void PostStop()
    {
        if (!_finished)
        {
            // The connection's stream is not our child: ending it is ours (the socket resets; the MConnection fails
            // with it, through the handover).
            Abort();
            Finish(PeerStopReason.Stopped("peer actor stopped"), stopSelf: false);
        }
    }
}

/// <summary>The reason a kill switch gives the stream when a peer is stopped at once.</summary>
internal sealed class PeerStoppedException(string message) : Exception(message);
