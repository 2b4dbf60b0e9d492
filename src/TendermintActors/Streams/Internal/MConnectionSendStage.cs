using System.Buffers;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using TendermintActors.Protocol.MConnection;
using static TendermintActors.Streams.MConnection;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// The MConnection's send path (<see cref="MConnectionStage"/>): drains the handle's commands, queues messages in the
/// <see cref="SendScheduler"/> and writes packets, owed pongs and due pings into batches as downstream asks, within
/// the send rate limit. Hands acknowledgements and status requests on to the receive stage (out1) and takes
/// <see cref="LivenessSignal"/>s from the receive stage (in). It decides when the connection ends (a close, the
/// remote's end, downstream cancelling) and tells the owner <see cref="MConnection.Stopped"/>.
/// </summary>
internal sealed class MConnectionSendStage
    : GraphStageWithMaterializedValue<FanOutShape<LivenessSignal, ByteString, ReceiveCommands>, MConnectionHandle>
{
    private readonly MConnectionSettings _settings;
    private readonly ChannelDescriptor[] _channels;
    private readonly ChannelIndex _channelIndex; // immutable: one for every materialisation of a blueprint
    private readonly IActorRef? _owner;

    // owner: null for a blueprint whose owner comes with each materialisation (ConnectionOwner).
    public MConnectionSendStage(MConnectionSettings settings, ChannelDescriptor[] channels, IActorRef? owner)
    {
        _settings = settings;
        _channels = channels;
        _channelIndex = new ChannelIndex(channels);
        _owner = owner;
        // One shape instance for the stage's lifetime: Akka compares shapes when rewiring.
        Shape = new FanOutShape<LivenessSignal, ByteString, ReceiveCommands>(
            new Inlet<LivenessSignal>("MConnection.liveness"),
            new Outlet<ByteString>("MConnection.out"),
            new Outlet<ReceiveCommands>("MConnection.control"));
    }

    public override FanOutShape<LivenessSignal, ByteString, ReceiveCommands> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("mconnection-send");

    public override ILogicAndMaterializedValue<MConnectionHandle> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var handle = new MConnectionHandle();
        return new LogicAndMaterializedValue<MConnectionHandle>(
            new Logic(this, handle, inheritedAttributes.GetAttribute<MConnectionOutputProbe>(), ConnectionOwner.Of(_owner, inheritedAttributes),
                inheritedAttributes.GetAttribute<RefillProbe>()), handle);
    }

    private sealed class Logic : TimerLogic
    {
        private const string RefillTimer = "refill";
        private const string LingerTimer = "linger";

        private readonly Inlet<LivenessSignal> _liveness;
        private readonly Outlet<ByteString> _out;
        private readonly Outlet<ReceiveCommands> _control;
        private readonly MConnectionSettings _settings;
        // With LendOutput: the buffer writes are encoded into, rented from the pool at a write and returned once
        // downstream has pulled again (done with it) with nothing more to write, so an idle connection holds none.
        private byte[]? _lentOutput;
        private readonly MConnectionOutputProbe? _outputProbe;
        private readonly MConnectionHandle _handle;
        private readonly IActorRef _owner;
        private readonly SendScheduler _scheduler;
        private readonly ChannelIndex _channelIndex;
        private readonly List<PacketMsgFragment> _batch = [];
        private readonly int[] _sentInBatch; // by the channels' order
        private readonly List<byte> _channelsSentInBatch = [];
        private readonly int _batchLimit;
        private readonly int _largestPacket;
        private readonly RateLimit _limit;
        private StageClock _clock;

        // For the receive stage: one instance fills while the other is in flight (see FlushControl).
        private ReceiveCommands _controlOutbox = new();
        private ReceiveCommands _controlInFlight = new();

        private bool _pongOwed;
        private bool _pingDue;
        // Commands are with the receive stage (pushed, and it has not pulled again): writes wait until it has handled
        // them, and after a status request so do the handle's later commands, so that the owner hears everything in the
        // order it asked (a Status, then what acknowledgements freed, then MessagesSent), as from one stage.
        private bool _controlPending;
        private bool _awaitingStatus; // a status request is queued for the receive stage or with it
        private bool _statusPending; // ... and with it
        private bool _closing;
        private bool _outputClosed;
        private bool _inputFinished;
        private bool _finished;
        private Exception? _failure;

        // Bytes sent, the send rate and, at each tick, the scheduler's recently-sent decay: taken when due, no timer.
        private StatusTicks _status;

        private readonly RefillProbe? _refillProbe;

        public Logic(MConnectionSendStage stage, MConnectionHandle handle, MConnectionOutputProbe? outputProbe, IActorRef owner,
            RefillProbe? refillProbe) : base(stage.Shape)
        {
            _refillProbe = refillProbe;
            _liveness = stage.Shape.In;
            _out = stage.Shape.Out0;
            _control = stage.Shape.Out1;
            _outputProbe = outputProbe;
            _settings = stage._settings;
            _status = new StatusTicks(_settings.StatusDecayInterval);
            _handle = handle;
            _owner = owner;
            var payload = _settings.MaxPacketMsgPayloadSize;
            _scheduler = new SendScheduler(stage._channels, payload, _settings.QueueType, stage._channelIndex);
            _channelIndex = stage._channelIndex;
            _sentInBatch = new int[stage._channels.Length];
            // Channel IDs from 0x80 take a two-byte varint: that is the largest packet we can cut.
            _largestPacket = PacketCodec.SizeOfPacketMsg(0xff, eof: true, payload);
            _batchLimit = Math.Max(_settings.MaxWriteBatchBytes, _largestPacket + 2 * PacketCodec.EncodedPing.Length);
            _limit = new RateLimit(TokenBucket.PacedSendRate(_settings.SendRate), _settings.FlushThrottle);

            SetHandler(_liveness, new InHandlerOf<Logic>(this, static l => l.OnLiveness(), static l => l.Finish(), static (l, e) => l.Fail(e)));
            SetHandler(_out, new OutHandlerOf<Logic>(this, static l => l.PushOut(), static (l, cause) => l.OnDownstreamFinish(cause)));
            SetHandler(_control, new OutHandlerOf<Logic>(this, static l => l.OnControlPull(), static (l, cause) => l.OnDownstreamFinish(cause)));
        }

        private TokenBucket Send => _limit.Bucket;

        public override void PreStart()
        {
            _clock = new StageClock(Materializer);
            Pull(_liveness);
            _handle.Attach(GetAsyncCallback(DrainCommands));
            DrainCommands();
        }

        protected override void OnTimer(object timerKey)
        {
            switch (timerKey)
            {
                case LingerTimer:
                    if (_outputClosed)
                        Finish(); // written; the remote never closed in turn
                    else
                        Fail(PeerClosedException.DuringFlush(_scheduler.PendingBytes, _settings.PongTimeout));
                    break;
                case RefillTimer:
                    if (_limit.Refill(_clock.Now))
                    {
                        CancelTimer(RefillTimer);
                        _refillProbe?.Send(false);
                    }
                    _scheduler.StartQuietPeriod();
                    PushOut();
                    break;
            }
        }

        private void OnLiveness()
        {
            var signal = Grab(_liveness);
            Pull(_liveness);
            _pongOwed |= signal.PongOwed;
            _pingDue |= signal.PingDue;
            if (signal.InputFinished)
            {
                OnInputFinished();
                return;
            }
            PushOut();
        }

        /// <summary>The receive stage has handled the last commands (a status request among them told): go on.</summary>
        private void OnControlPull()
        {
            _controlPending = false;
            if (!_statusPending)
            {
                FlushControl();
                PushOut();
                return;
            }
            _awaitingStatus = _statusPending = false;
            // What the handle asked after the status, then a write. Not a wake-up: later calls have posted their own.
            Drain(wake: false);
        }

        // ---- commands from the handle ----

        private void DrainCommands() => Drain(wake: true);

        private void Drain(bool wake)
        {
            if (wake)
                _handle.BeginDrain();
            while (!_finished && !_awaitingStatus && _handle.TryTake(out var command))
            {
                switch (command.Kind)
                {
                    case MConnectionHandle.CommandKind.Send:
                        Enqueue(command.Channel, command.Message);
                        break;
                    case MConnectionHandle.CommandKind.Ack:
                        _controlOutbox.Items.Add(new ReceiveCommand(command.Channel, command.Count, null));
                        break;
                    case MConnectionHandle.CommandKind.PauseReads:
                        _controlOutbox.Items.Add(new ReceiveCommand(0, 0, null, command.Count != 0));
                        break;
                    case MConnectionHandle.CommandKind.Status:
                        if (_status.Running)
                            TakeStatusTicks(_clock.Now);
                        _controlOutbox.Items.Add(new ReceiveCommand(0, 0,
                            new SendStatus(_scheduler.GetStatus(), _status.Bytes, _status.Rate)));
                        _awaitingStatus = true;
                        break;
                    case MConnectionHandle.CommandKind.Close:
                        if (command.Count == 0)
                        {
                            Finish();
                        }
                        else if (!_closing)
                        {
                            _closing = true;
                            if (!_scheduler.HasPending)
                                CloseOutput();
                        }
                        break;
                }
            }
            if (_finished) return;
            FlushControl();
            PushOut();
        }

        private void Enqueue(byte channel, ReadOnlyMemory<byte> message)
        {
            if (_closing)
            {
                _owner.Tell(new SendRejected(channel, SendRejection.Closing));
                return;
            }
            switch (_scheduler.TryEnqueue(channel, message))
            {
                case EnqueueResult.QueueFull:
                    _owner.Tell(new SendRejected(channel, SendRejection.QueueFull));
                    break;
                case EnqueueResult.UnknownChannel:
                    _owner.Tell(new SendRejected(channel, SendRejection.UnknownChannel));
                    break;
            }
        }

        /// <summary>Hands the receive stage what has gathered for it, once it has taken the previous lot.</summary>
        private void FlushControl()
        {
            if (_controlOutbox.IsEmpty || !IsAvailable(_control)) return;
            _controlPending = true;
            _statusPending = _awaitingStatus; // a status request is always the last of its lot
            var sending = _controlOutbox;
            // Pulled again: the receive stage is done with the one in flight, which fills next.
            _controlOutbox = _controlInFlight;
            _controlOutbox.Clear();
            _controlInFlight = sending;
            Push(_control, sending);
        }

        // ---- sending ----

        /// <summary>Takes every status tick due at <paramref name="now"/>, decaying the scheduler's recently-sent counts at each.</summary>
        private void TakeStatusTicks(TimeSpan now)
        {
            while (_status.TickDue(now))
            {
                _scheduler.Decay();
                if (_status.Rate == 0 && _scheduler.FullyDecayed)
                {
                    _status.Stop();
                    return;
                }
            }
        }

        /// <summary>
        /// Writes everything that may go now into one element: an owed pong, a due ping, then packets as the scheduler
        /// picks them, up to the batch limit and the send budget. Called whenever downstream may have demand.
        /// </summary>
        private void PushOut()
        {
            if (_finished || _outputClosed || _controlPending || _controlOutbox.Items.Count > 0 || !IsAvailable(_out)) return;

            // Without the refill timer (the budget was not spent), the time since the last credit is credited now; a
            // tick or more of it starts a quiet period, as a timer's refill would have.
            if (Send.Limited && !IsTimerActive(RefillTimer) && _limit.CatchUp(_clock.Now))
                _scheduler.StartQuietPeriod();

            var pong = _pongOwed;
            var ping = _pingDue;
            // The ticks due before choosing (by recently-sent counts) and counting; the clock is read only for a write.
            TimeSpan? now = null;
            if (_status.Running && (pong || ping || _scheduler.HasPending))
                TakeStatusTicks((now = _clock.Now).Value);
            var size = (pong ? PacketCodec.EncodedPong.Length : 0) + (ping ? PacketCodec.EncodedPing.Length : 0);
            var packetBytes = 0L;
            // Pings and pongs are not rate limited (as in Go): liveness must not wait for a busy connection's budget.
            while (_scheduler.HasPending && size + _largestPacket <= _batchLimit)
            {
                PacketMsgFragment fragment;
                if (!Send.Limited || packetBytes < Send.Tokens)
                {
                    if (!_scheduler.TryNextPacket(out fragment)) break;
                }
                // The budget is spent (typically by a bulk transfer): a channel that has been quiet since the last
                // refill may still send one packet now rather than after the next one, as long as the debt stays
                // within one refill, which pays it back; so the long-run rate holds.
                else if (Send.Tokens - packetBytes - _largestPacket < -_limit.TickBudget || !_scheduler.TryNextQuietPacket(out fragment))
                {
                    break;
                }
                _batch.Add(fragment);
                var encoded = fragment.EncodedSize;
                size += encoded;
                packetBytes += encoded;
            }
            // A lent buffer is free again here: we get this far only when downstream has pulled, that is, once it is
            // done with the last write.
            if (size == 0)
            {
                ReturnOutputBuffer();
                return;
            }

            // Every byte is written below, so the array need not be zeroed first.
            var buffer = _settings.LendOutput
                ? _lentOutput ??= RentOutputBuffer()
                : GC.AllocateUninitializedArray<byte>(size);
            var offset = 0;
            if (pong)
            {
                PacketCodec.EncodedPong.CopyTo(buffer);
                offset += PacketCodec.EncodedPong.Length;
                _pongOwed = false;
            }
            if (ping)
            {
                PacketCodec.EncodedPing.CopyTo(buffer.AsSpan(offset));
                offset += PacketCodec.EncodedPing.Length;
                _pingDue = false;
            }
            foreach (var fragment in _batch)
                offset += fragment.WriteTo(buffer.AsSpan(offset));

            _status.Count(now ?? _clock.Now, size);
            if (Send.Limited)
            {
                Send.Spend(size);
                if (_limit.NeedsTimer)
                    EnsureRefilling();
            }
            Push(_out, ByteString.FromBytes(buffer, 0, size));

            // One MessagesSent per channel for the whole write, in the order the channels first completed a message.
            foreach (var fragment in _batch)
                if (fragment.Eof && _sentInBatch[_channelIndex[fragment.ChannelId]]++ == 0)
                    _channelsSentInBatch.Add(fragment.ChannelId);
            foreach (var channel in _channelsSentInBatch)
            {
                var position = _channelIndex[channel];
                _owner.Tell(new MessagesSent(channel, _sentInBatch[position]));
                _sentInBatch[position] = 0;
            }
            _channelsSentInBatch.Clear();
            _batch.Clear();

            if (_closing && !_scheduler.HasPending)
                CloseOutput();
        }

        private void EnsureRefilling()
        {
            if (IsTimerActive(RefillTimer)) return;
            ScheduleRepeatedly(RefillTimer, _limit.Tick);
            _refillProbe?.Send(true);
        }

        private byte[] RentOutputBuffer()
        {
            var buffer = ArrayPool<byte>.Shared.Rent(_batchLimit);
            _outputProbe?.Rented(buffer.Length);
            return buffer;
        }

        private void ReturnOutputBuffer()
        {
            if (_lentOutput is null) return;
            ArrayPool<byte>.Shared.Return(_lentOutput);
            _lentOutput = null;
            _outputProbe?.Returned();
        }

        /// <summary>
        /// The end of a graceful close: everything queued is written. Only the output completes, so that the layers
        /// below flush what they hold (cancelling our input would make them stop at once); the connection ends when the
        /// remote closes in turn (at once if it already has), or after a pong timeout's worth of waiting for it.
        /// </summary>
        private void CloseOutput()
        {
            _outputClosed = true;
            Complete(_out);
            if (_inputFinished)
            {
                Finish(); // the remote had already closed its direction: nothing left to wait for
                return;
            }
            // No more pings, and no pong timeout (the receive stage runs them).
            _controlOutbox.OutputClosed = true;
            FlushControl();
            ScheduleOnce(LingerTimer, _settings.PongTimeout);
        }

        private void OnDownstreamFinish(Exception cause)
        {
            if (cause is not SubscriptionWithCancelException.NonFailureCancellation)
                Fail(cause);
            else if (_closing && !_outputClosed && _scheduler.HasPending)
                // The layers below stopped taking our bytes while a graceful close still had messages to write: those
                // were not delivered, and the close did not flush.
                Fail(PeerClosedException.TransportEnded(_scheduler.PendingBytes));
            else
                Finish();
        }

        /// <summary>The remote ended its direction (the receive stage has delivered everything it wrote).</summary>
        private void OnInputFinished()
        {
            // A Close (or anything else) the owner already asked for counts before the remote's end does.
            DrainCommands();
            if (_finished) return;
            if (_closing && !_outputClosed)
            {
                // Our graceful close is still writing and the remote has ended its direction. With half-close it may
                // still be reading (a node closing gracefully at the same moment is), so keep writing, for at most a
                // pong timeout (no pong can come any more); CloseOutput ends the stage once the queue is out.
                _inputFinished = true;
                _pingDue = false;
                ScheduleOnce(LingerTimer, _settings.PongTimeout);
                return;
            }
            Finish();
        }

        // ---- ending ----

        private void Finish()
        {
            if (_finished) return;
            _finished = true;
            CompleteStage();
        }

        private void Fail(Exception reason)
        {
            if (_finished) return;
            _finished = true;
            _failure = reason;
            FailStage(reason);
        }

        public override void PostStop()
        {
            // Stopped without us deciding it: the materializer or actor system shut down under us.
            var reason = _finished ? _failure : new AbruptStageTerminationException(this);
            // Not returned to the pool: downstream may not be done with it. The GC takes it.
            _lentOutput = null;
            _handle.Stopped(reason);
            _owner.Tell(new MConnection.Stopped(reason));
        }
    }
}
