using System.Buffers;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;
using static TendermintActors.Streams.MConnection;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// I/O shell around the MConnection cores (<see cref="SendScheduler"/>, <see cref="PacketDecoder"/>,
/// <see cref="Reassembler"/>, <see cref="PingPongState"/>, <see cref="TokenBucket"/>, <see cref="ReceiveWindow"/>): plaintext in → messages to the owner, messages from the
/// handle → plaintext out. All timing comes from stage timers, so it follows the materializer's scheduler.
/// Policies are described on <see cref="MConnection"/>.
/// </summary>
internal sealed class MConnectionStage : GraphStageWithMaterializedValue<FlowShape<ByteString, ByteString>, MConnectionHandle>
{
    private readonly MConnectionSettings _settings;
    private readonly ChannelDescriptor[] _channels;
    private readonly IActorRef _owner;
    private readonly Inlet<ByteString> _in = new("MConnection.in");
    private readonly Outlet<ByteString> _out = new("MConnection.out");

    public MConnectionStage(MConnectionSettings settings, ChannelDescriptor[] channels, IActorRef owner)
    {
        _settings = settings;
        _channels = channels;
        _owner = owner;
        // One shape instance for the stage's lifetime: Akka compares shapes when rewiring.
        Shape = new FlowShape<ByteString, ByteString>(_in, _out);
    }

    public override FlowShape<ByteString, ByteString> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("mconnection");

    public override ILogicAndMaterializedValue<MConnectionHandle> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var handle = new MConnectionHandle();
        return new LogicAndMaterializedValue<MConnectionHandle>(
            new Logic(this, handle, inheritedAttributes.GetAttribute<MConnectionOutputProbe>()), handle);
    }

    /// <summary>How often the rate limits' budgets are refilled (at most; FlushThrottle if shorter).</summary>
    internal static readonly TimeSpan MaxRefillTick = TimeSpan.FromMilliseconds(10);

    private sealed class Logic : TimerGraphStageLogic
    {
        private const string PingTimer = "ping";
        private const string PongTimer = "pong";
        private const string DecayTimer = "decay";
        private const string RefillTimer = "refill";
        private const string LingerTimer = "linger";

        private readonly MConnectionStage _stage;
        private readonly MConnectionSettings _settings;
        // With LendOutput: the buffer writes are encoded into, rented from the pool at a write and returned once
        // downstream has pulled again (done with it) with nothing more to write, so an idle connection holds none.
        private byte[]? _lentOutput;
        private readonly MConnectionOutputProbe? _outputProbe;
        private readonly MConnectionHandle _handle;
        private readonly IActorRef _owner;
        private readonly SendScheduler _scheduler;
        private readonly Reassembler _reassembler;
        private readonly PacketDecoder _decoder;
        private readonly PacketDecoder.PacketHandler _onPacket; // OnPacket, made a delegate once
        private readonly ChannelIndex _channelIndex;
        private readonly ReceiveWindow[] _receiveChannels; // in the channels' order (_channelIndex)
        private readonly List<PacketMsgFragment> _batch = [];
        // Messages delivered but not yet told to the owner: told together at the end of each read (or ack).
        private readonly List<ReceivedMessage> _delivered = [];
        private readonly int[] _sentInBatch; // by the channels' order
        private readonly List<byte> _channelsSentInBatch = [];
        private readonly int _batchLimit;
        private readonly int _largestPacket;

        private PingPongState _pingPong = null!;
        private ITimeProvider? _clock;
        private DateTimeOffset _epoch;
        private readonly System.Diagnostics.Stopwatch _fallbackClock = new();

        private int _channelsAtBound;
        private bool _pingDue;
        // The pong deadline passed while we were not reading: the remote gets a fresh timeout once we read again.
        private bool _pongTimeoutDeferred;
        private bool _closing;
        private bool _outputClosed;
        private bool _inputFinished;
        private bool _finished;
        private Exception? _failure;

        // The rate limits: buckets holding up to one FlushThrottle's worth of bytes (at least three ticks' worth),
        // refilled every RefillTick with what the rate earned since the last refill (see TokenBucket).
        private readonly TokenBucket _send;
        private readonly TokenBucket _recv;
        private readonly long _sendRefill; // one tick's worth, the bound on the quiet path's debt
        private readonly TimeSpan _refillTick;
        private TimeSpan _lastRefill;

        private long _bytesSent;
        private long _bytesReceived;
        private long _bytesSentAtSample;
        private long _bytesReceivedAtSample;
        private long _sendRate;
        private long _recvRate;

        public Logic(MConnectionStage stage, MConnectionHandle handle, MConnectionOutputProbe? outputProbe) : base(stage.Shape)
        {
            _outputProbe = outputProbe;
            _stage = stage;
            _settings = stage._settings;
            _handle = handle;
            _owner = stage._owner;
            var payload = _settings.MaxPacketMsgPayloadSize;
            _scheduler = new SendScheduler(stage._channels, payload, stage._settings.QueueType);
            _reassembler = new Reassembler(stage._channels);
            _decoder = new PacketDecoder(PacketCodec.MaxPacketSize(payload));
            _onPacket = OnPacket;
            _channelIndex = new ChannelIndex(stage._channels);
            _receiveChannels = new ReceiveWindow[stage._channels.Length];
            for (var i = 0; i < stage._channels.Length; i++)
                _receiveChannels[i] = new ReceiveWindow(stage._channels[i], _settings.ReceiveWindowBytes);
            _sentInBatch = new int[stage._channels.Length];

            // Channel IDs from 0x80 take a two-byte varint: that is the largest packet we can cut.
            _largestPacket = PacketCodec.SizeOfPacketMsg(0xff, eof: true, payload);
            _batchLimit = Math.Max(_settings.MaxWriteBatchBytes, _largestPacket + 2 * PacketCodec.EncodedPing.Length);
            _refillTick = _settings.FlushThrottle < MaxRefillTick ? _settings.FlushThrottle : MaxRefillTick;
            // At least three ticks' worth, so that a tick the scheduler delivers late (its wheel turns every 10 ms) does
            // not hit the cap with what it earned.
            var burstPeriod = _settings.FlushThrottle > 3 * MaxRefillTick ? _settings.FlushThrottle : 3 * MaxRefillTick;
            _send = new TokenBucket(_settings.SendRate, burstPeriod);
            _recv = new TokenBucket(_settings.RecvRate, burstPeriod);
            _sendRefill = TokenBucket.Budget(_settings.SendRate, _refillTick);

            SetHandler(stage._in, onPush: OnPush, onUpstreamFinish: OnUpstreamFinish, onUpstreamFailure: Fail);
            SetHandler(stage._out, onPull: PushOut, onDownstreamFinish: OnDownstreamFinish);
        }

        /// <summary>Reads stop because of us (a channel at its bound, or the receive budget spent), not the remote.</summary>
        private bool ReadsPausedByUs => _channelsAtBound > 0 || !_recv.HasBudget;

        // The scheduler's clock (moved by Akka's TestScheduler in specs): PingPongState's bookkeeping and the rate
        // limits' refills; decisions are taken by timers.
        private TimeSpan Now => _clock is null ? _fallbackClock.Elapsed : _clock.Now - _epoch;

        public override void PreStart()
        {
            // The scheduler's clock moves with Akka's TestScheduler; a sub-fusing materializer has no system to ask.
            _clock = (Materializer as ActorMaterializer)?.System.Scheduler;
            _epoch = _clock?.Now ?? default;
            _fallbackClock.Start();
            _pingPong = new PingPongState(_settings.PingInterval, _settings.PongTimeout, TimeSpan.Zero);
            ScheduleRepeatedly(PingTimer, _settings.PingInterval);
            ScheduleRepeatedly(DecayTimer, _settings.StatusDecayInterval);
            _handle.Attach(GetAsyncCallback(DrainCommands));
            DrainCommands();
            if (!_finished)
                MaybePull();
        }

        protected override void OnTimer(object timerKey)
        {
            switch (timerKey)
            {
                case PingTimer:
                    _pingDue = true;
                    PushOut();
                    break;
                case PongTimer:
                    if (_outputClosed)
                        break;
                    if (ReadsPausedByUs && !HasBeenPulled(_stage._in))
                        _pongTimeoutDeferred = true;
                    else
                        Fail(PeerTimeoutException.Pong(_settings.PongTimeout));
                    break;
                case DecayTimer:
                    _scheduler.Decay();
                    var seconds = _settings.StatusDecayInterval.TotalSeconds;
                    _sendRate = (long)((_bytesSent - _bytesSentAtSample) / seconds);
                    _recvRate = (long)((_bytesReceived - _bytesReceivedAtSample) / seconds);
                    _bytesSentAtSample = _bytesSent;
                    _bytesReceivedAtSample = _bytesReceived;
                    break;
                case LingerTimer:
                    if (_outputClosed)
                        Finish(); // written; the remote never closed in turn
                    else
                        Fail(PeerClosedException.DuringFlush(_scheduler.PendingBytes, _settings.PongTimeout));
                    break;
                case RefillTimer:
                    var now = Now;
                    // The scheduler's clock is the wall clock: a step back takes no budget away (TokenBucket.Refill).
                    var elapsed = now - _lastRefill;
                    _lastRefill = now;
                    // Stop refilling only after a whole tick in which nothing was spent: a timer restarted for every
                    // burst would first fire a scheduler tick late each time, and the cap would eat what it earned.
                    var idle = _send.IsFull && _recv.IsFull;
                    _send.Refill(elapsed);
                    _recv.Refill(elapsed);
                    _scheduler.StartQuietPeriod();
                    if (idle)
                        CancelTimer(RefillTimer);
                    PushOut();
                    MaybePull();
                    break;
            }
        }

        private void EnsureRefilling()
        {
            if (IsTimerActive(RefillTimer)) return;
            _lastRefill = Now; // the buckets were full until now
            ScheduleRepeatedly(RefillTimer, _refillTick);
        }

        // ---- commands from the handle ----

        private void DrainCommands()
        {
            _handle.BeginDrain();
            while (!_finished && _handle.TryTake(out var command))
            {
                switch (command.Kind)
                {
                    case MConnectionHandle.CommandKind.Send:
                        Enqueue(command.Channel, command.Message);
                        break;
                    case MConnectionHandle.CommandKind.Ack:
                        Ack(command.Channel, command.Count);
                        break;
                    case MConnectionHandle.CommandKind.Status:
                        _owner.Tell(new MConnection.Status(GetStatus()));
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
            TellDelivered();
            if (_finished) return;
            PushOut();
            MaybePull();
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

        private void Ack(byte channel, int count)
        {
            if (_channelIndex[channel] is not (var i and >= 0)) return;
            var ch = _receiveChannels[i];
            var wasAtBound = ch.IsFull;
            ch.Acknowledge(count);
            while (!ch.IsFull && ch.Held.TryDequeue(out var message))
                Deliver(ch, message);
            if (wasAtBound && !ch.IsFull)
                _channelsAtBound--;
        }

        private MConnection.ConnectionStatus GetStatus()
        {
            var send = _scheduler.GetStatus();
            var channels = new ChannelStatus[send.Length];
            for (var i = 0; i < send.Length; i++)
            {
                var s = send[i];
                var r = _receiveChannels[_channelIndex[s.Id]];
                channels[i] = new ChannelStatus(s.Id, s.Priority, s.QueueSize, s.SendQueueCapacity, s.RecentlySent,
                    s.PendingBytes, r.Unacknowledged, r.Bound, r.UnacknowledgedBytes, r.WindowBytes);
            }
            return new MConnection.ConnectionStatus(channels, _bytesSent, _bytesReceived, _sendRate, _recvRate,
                ReadsPausedByUs && !HasBeenPulled(_stage._in) && !IsClosed(_stage._in));
        }

        // ---- sending ----

        /// <summary>
        /// Writes everything that may go now into one element: an owed pong, a due ping, then packets as the scheduler
        /// picks them, up to the batch limit and the send budget. Called whenever downstream may have demand.
        /// </summary>
        private void PushOut()
        {
            if (_finished || _outputClosed || !IsAvailable(_stage._out)) return;

            var pong = _pingPong.TryTakePong();
            var ping = _pingDue;
            var size = (pong ? PacketCodec.EncodedPong.Length : 0) + (ping ? PacketCodec.EncodedPing.Length : 0);
            var packetBytes = 0L;
            // Pings and pongs are not rate limited (as in Go): liveness must not wait for a busy connection's budget.
            while (_scheduler.HasPending && size + _largestPacket <= _batchLimit)
            {
                PacketMsgFragment fragment;
                if (!_send.Limited || packetBytes < _send.Tokens)
                {
                    if (!_scheduler.TryNextPacket(out fragment)) break;
                }
                // The budget is spent (typically by a bulk transfer): a channel that has been quiet since the last
                // refill may still send one packet now rather than after the next one, as long as the debt stays
                // within one refill, which pays it back; so the long-run rate holds.
                else if (_send.Tokens - packetBytes - _largestPacket < -_sendRefill || !_scheduler.TryNextQuietPacket(out fragment))
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
            }
            if (ping)
            {
                PacketCodec.EncodedPing.CopyTo(buffer.AsSpan(offset));
                offset += PacketCodec.EncodedPing.Length;
                _pingDue = false;
                var awaitingPong = _pingPong.PongDeadline is not null;
                _pingPong.OnPingSent(Now);
                // An earlier ping still unanswered keeps its deadline; scheduled before the push so that whoever sees
                // the ping knows the deadline is already running.
                if (!awaitingPong && !_pongTimeoutDeferred)
                    ScheduleOnce(PongTimer, _settings.PongTimeout);
            }
            foreach (var fragment in _batch)
                offset += fragment.WriteTo(buffer.AsSpan(offset));

            _bytesSent += size;
            if (_send.Limited)
            {
                _send.Spend(size);
                EnsureRefilling();
            }
            Push(_stage._out, ByteString.FromBytes(buffer, 0, size));

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
        /// below flush what they hold (cancelling our input would make them stop at once); the stage ends when the
        /// remote closes in turn (at once if it already has), or after a pong timeout's worth of waiting for it.
        /// </summary>
        private void CloseOutput()
        {
            _outputClosed = true;
            CancelTimer(PingTimer);
            CancelTimer(PongTimer);
            _pongTimeoutDeferred = false;
            Complete(_stage._out);
            if (_inputFinished)
                Finish(); // the remote had already closed its direction: nothing left to wait for
            else
                ScheduleOnce(LingerTimer, _settings.PongTimeout);
        }

        private void OnDownstreamFinish(Exception cause)
        {
            if (cause is SubscriptionWithCancelException.NonFailureCancellation)
                Finish();
            else
                Fail(cause);
        }

        // ---- receiving ----

        private void OnPush()
        {
            var chunk = Grab(_stage._in);
            _bytesReceived += chunk.Count;
            if (_recv.Limited)
            {
                _recv.Spend(chunk.Count);
                EnsureRefilling();
            }
            try
            {
                _decoder.Decode(chunk.ToReadOnlySpan(), _onPacket); // whole packets read in place, not copied first
            }
            catch (PeerConnectionException e)
            {
                TellDelivered(); // what came before the violation was whole and valid
                Fail(e);
                return;
            }
            TellDelivered();
            PushOut();
            MaybePull();
        }

        private void OnPacket(Packet.SumOneofCase kind, int channelId, bool eof, ReadOnlySpan<byte> data)
        {
            switch (kind)
            {
                case Packet.SumOneofCase.PacketPing:
                    _pingPong.OnPingReceived();
                    break;
                case Packet.SumOneofCase.PacketPong:
                    _pingPong.OnPongReceived();
                    _pongTimeoutDeferred = false;
                    CancelTimer(PongTimer);
                    break;
                case Packet.SumOneofCase.PacketMsg:
                    if (_reassembler.Accept(channelId, eof, data) is { } message)
                        Receive(_receiveChannels[_channelIndex[channelId]], message);
                    break;
            }
        }

        private void Receive(ReceiveWindow ch, byte[] message)
        {
            if (ch.IsFull)
            {
                ch.Held.Enqueue(message);
                return;
            }
            Deliver(ch, message);
            if (ch.IsFull)
                _channelsAtBound++;
        }

        private void Deliver(ReceiveWindow ch, byte[] message)
        {
            ch.Delivered(message.Length);
            _delivered.Add(new ReceivedMessage(ch.Id, message));
        }

        private void TellDelivered()
        {
            if (_delivered.Count == 0) return;
            _owner.Tell(new MessagesReceived(_delivered.ToArray()));
            _delivered.Clear();
        }

        private void MaybePull()
        {
            if (_finished || IsClosed(_stage._in) || HasBeenPulled(_stage._in) || ReadsPausedByUs) return;
            if (_pongTimeoutDeferred)
            {
                _pongTimeoutDeferred = false;
                ScheduleOnce(PongTimer, _settings.PongTimeout);
            }
            Pull(_stage._in);
        }

        private void OnUpstreamFinish()
        {
            // A Close (or anything else) the owner already asked for counts before the remote's end does.
            DrainCommands();
            if (_finished) return;
            try
            {
                _decoder.Complete();
                foreach (var ch in _receiveChannels)
                {
                    var partial = _reassembler.BufferedBytes(ch.Id);
                    if (partial > 0)
                        throw new ProtocolViolationException(ProtocolViolation.UnexpectedEof,
                            $"stream ended inside a message on channel 0x{ch.Id:x2} ({partial} bytes received)");
                }
            }
            catch (PeerConnectionException e)
            {
                Fail(e);
                return;
            }
            // The connection is ending: what was already received goes to the owner regardless of the bound, which
            // only exists to pause reading.
            foreach (var ch in _receiveChannels)
                while (ch.Held.TryDequeue(out var message))
                    Deliver(ch, message);
            TellDelivered();
            if (_closing && !_outputClosed)
            {
                // Our graceful close is still writing and the remote has ended its direction. With half-close it may
                // still be reading (a node closing gracefully at the same moment is), so keep writing, for at most a
                // pong timeout (no pong can come any more); CloseOutput ends the stage once the queue is out.
                _inputFinished = true;
                CancelTimer(PingTimer);
                CancelTimer(PongTimer);
                _pingDue = false;
                _pongTimeoutDeferred = false;
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
            TellDelivered();
            _handle.Stopped(reason);
            _owner.Tell(new MConnection.Stopped(reason));
        }
    }
}
