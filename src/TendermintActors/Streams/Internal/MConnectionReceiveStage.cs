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
/// The MConnection's receive path and liveness (<see cref="MConnectionStage"/>): reads plaintext (in0) while every
/// channel's receive window has room and the receive rate limit's budget lasts, decodes packets in place, reassembles
/// messages and tells them to the owner; takes acknowledgements and status requests from the send stage (in1); and
/// decides what the send stage must write for liveness (out): a pong for a ping read, a ping every ping interval,
/// whose pong must be read within the pong timeout or the connection fails with <see cref="PeerTimeoutException"/>.
/// While reads are paused by us (a receive window at its bound, the rate limit's budget spent, the node's buffer
/// budget) that deadline is not held against the remote: it starts again when reading resumes. Once either
/// direction has ended, no more pings go out and no pong is awaited. The stage stays until the send stage ends the
/// connection, also after the remote has ended its direction.
/// </summary>
/// <remarks>
/// The rate limit and the ping/pong rules are parts of this stage, not stages of their own: every stage an idle
/// connection holds costs its logic, its handlers and the interpreter's connections to it, ~0.75 KiB per peer
/// (docs/performance.md, "Two stages, channels on first use, and the marginal peer").
/// </remarks>
internal sealed class MConnectionReceiveStage : GraphStage<FanInShape<ByteString, ReceiveCommands, LivenessSignal>>
{
    private readonly MConnectionSettings _settings;
    private readonly ChannelDescriptor[] _channels;
    private readonly ChannelIndex _channelIndex; // immutable: one for every materialisation of a blueprint
    private readonly IActorRef? _owner;

    // owner: null for a blueprint whose owner comes with each materialisation (ConnectionOwner).
    public MConnectionReceiveStage(MConnectionSettings settings, ChannelDescriptor[] channels, IActorRef? owner)
    {
        _settings = settings;
        _channels = channels;
        _channelIndex = new ChannelIndex(channels);
        _owner = owner;
        Shape = new FanInShape<ByteString, ReceiveCommands, LivenessSignal>(
            new Outlet<LivenessSignal>("MConnection.liveness-out"),
            new Inlet<ByteString>("MConnection.in"),
            new Inlet<ReceiveCommands>("MConnection.commands"));
    }

    public override FanInShape<ByteString, ReceiveCommands, LivenessSignal> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("mconnection-receive");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) =>
        new Logic(this, ConnectionOwner.Of(_owner, inheritedAttributes), inheritedAttributes.GetAttribute<RefillProbe>());

    // Its status ticks are taken when due (StatusTicks); its timers are the rate limit's refill, the ping and the pong deadline.
    private sealed class Logic : TimerLogic
    {
        private const string RefillTimer = "refill";
        private const string PingTimer = "ping";
        private const string PongTimer = "pong";

        private readonly Inlet<ByteString> _in;
        private readonly Inlet<ReceiveCommands> _commands;
        private readonly Outlet<LivenessSignal> _liveness;
        private readonly MConnectionSettings _settings;
        private readonly IActorRef _owner;
        private readonly Reassembler _reassembler;
        private readonly PacketDecoder _decoder;
        private readonly PacketDecoder.PacketHandler _onPacket; // OnPacket, made a delegate once
        private readonly ChannelIndex _channelIndex;
        private readonly ChannelDescriptor[] _channels;
        // In the channels' order (_channelIndex); each made at its channel's first message, so a channel that never
        // receives holds none.
        private readonly ReceiveWindow?[] _receiveChannels;
        // Messages delivered but not yet told to the owner: told together at the end of each read (or ack).
        private readonly List<ReceivedMessage> _delivered = [];
        private readonly RateLimit _limit;
        private readonly RefillProbe? _refillProbe;
        private LivenessSignal? _signal; // facts gathered for the send stage, pushed once it has pulled
        private bool _readsPaused; // ReceivePaused as last seen (ReportPause)
        private bool _budgetPaused; // the node's buffer budget stopped our reads
        private long _partialBytes; // unfinished messages held by the reassembler, all channels
        private long _partialBytesReported;

        private int _channelsAtBound;
        private bool _inputFinished;
        // Bytes read and the receive rate: ticks taken when due, no timer.
        private StatusTicks _status;
        private StageClock _clock;

        // Liveness (PingPongState: when a ping is due and its pong overdue, with the timers below).
        private PingPongState _pingPong = null!;
        // The pong deadline passed while we were not reading: the remote gets a fresh timeout once we read again.
        private bool _pongTimeoutDeferred;
        private bool _livenessStopped;

        public Logic(MConnectionReceiveStage stage, IActorRef owner, RefillProbe? refillProbe) : base(stage.Shape)
        {
            _in = stage.Shape.In0;
            _commands = stage.Shape.In1;
            _liveness = stage.Shape.Out;
            _settings = stage._settings;
            _refillProbe = refillProbe;
            _limit = new RateLimit(TokenBucket.ReceiveAllowance(_settings.RecvRate), _settings.FlushThrottle);
            _status = new StatusTicks(_settings.StatusDecayInterval);
            _owner = owner;
            _reassembler = new Reassembler(stage._channels, stage._channelIndex);
            _decoder = new PacketDecoder(PacketCodec.MaxPacketSize(_settings.MaxPacketMsgPayloadSize));
            _onPacket = OnPacket;
            _channelIndex = stage._channelIndex;
            _channels = stage._channels;
            _receiveChannels = new ReceiveWindow?[_channels.Length];

            SetHandler(_in, new InHandlerOf<Logic>(this, static l => l.OnPush(), static l => l.OnUpstreamFinish(), static (l, e) => l.FailStage(e)));
            // The send stage ends the connection: its end (or failure) is ours.
            SetHandler(_commands, new InHandlerOf<Logic>(this, static l => l.OnCommands(), static l => l.CompleteStage(), static (l, e) => l.FailStage(e)));
            SetHandler(_liveness, new OutHandlerOf<Logic>(this, static l => l.FlushSignal(), static (l, cause) =>
            {
                if (cause is SubscriptionWithCancelException.NonFailureCancellation)
                    l.CompleteStage();
                else
                    l.FailStage(cause);
            }));
        }

        /// <summary>
        /// Reads stop because of us, not the remote: a channel at its bound, the receive rate limit's budget spent, or
        /// the node's buffer budget (the read already asked for is taken, then no more).
        /// </summary>
        private bool ReceivePaused => !IsClosed(_in) && (_channelsAtBound > 0 && !HasBeenPulled(_in) || BudgetSpent || _budgetPaused);

        private bool BudgetSpent => !_limit.Bucket.HasBudget;

        private LivenessSignal Signal => _signal ??= new LivenessSignal();

        public override void PreStart()
        {
            _clock = new StageClock(Materializer);
            _pingPong = new PingPongState(_settings.PingInterval, _settings.PongTimeout, _clock.Now);
            ScheduleRepeatedly(PingTimer, _settings.PingInterval);
            Pull(_commands);
            MaybePull();
        }

        protected override void OnTimer(object timerKey)
        {
            switch (timerKey)
            {
                case RefillTimer:
                    if (_limit.Refill(_clock.Now))
                    {
                        CancelTimer(RefillTimer);
                        _refillProbe?.Receive(false);
                    }
                    MaybePull();
                    ReportPause();
                    break;
                case PingTimer:
                    var awaitingPong = _pingPong.PongDeadline is not null;
                    _pingPong.OnPingSent(_clock.Now);
                    // An earlier ping still unanswered keeps its deadline. It runs from now, before the send stage
                    // writes the ping, so that whoever sees the ping knows the deadline is already running.
                    if (!awaitingPong && !_pongTimeoutDeferred)
                        ScheduleOnce(PongTimer, _settings.PongTimeout);
                    Signal.PingDue = true;
                    FlushSignal();
                    break;
                case PongTimer:
                    if (_readsPaused)
                        _pongTimeoutDeferred = true;
                    else
                        FailStage(PeerTimeoutException.Pong(_settings.PongTimeout));
                    break;
            }
        }

        // ---- from the send stage ----

        private void OnCommands()
        {
            var commands = Grab(_commands);
            var readsMayChange = false; // a status request changes nothing: it only reads
            foreach (var command in commands.Items)
            {
                if (command.BudgetPause is { } pause)
                {
                    _budgetPaused = pause;
                    readsMayChange = true;
                }
                else if (command.SendStatus is { } send)
                {
                    // What the commands before it changed is settled first (a pong deadline restarted by a
                    // resumption, say): whoever reads the status may act on it at once.
                    SettleReadsIf(ref readsMayChange);
                    _owner.Tell(new MConnection.Status(GetStatus(send)));
                }
                else
                {
                    Ack(command.Channel, command.Count);
                    readsMayChange = true;
                }
            }
            if (commands.OutputClosed)
                StopLiveness();
            TellDelivered();
            SettleReadsIf(ref readsMayChange);
            Pull(_commands); // last: the send stage goes on once everything above is told
        }

        /// <summary>After commands that may have freed a channel or lifted the buffer budget: read on if we may, and note a resumption.</summary>
        private void SettleReadsIf(ref bool readsMayChange)
        {
            if (!readsMayChange) return;
            readsMayChange = false;
            MaybePull();
            ReportPause();
        }

        private void Ack(byte channel, int count)
        {
            if (_channelIndex[channel] is not (var i and >= 0) || _receiveChannels[i] is not { } ch) return;
            var wasAtBound = ch.IsFull;
            ch.Acknowledge(count);
            while (!ch.IsFull && ch.TryTakeHeld(out var message))
                Deliver(ch, message);
            if (wasAtBound && !ch.IsFull)
                _channelsAtBound--;
        }

        private MConnection.ConnectionStatus GetStatus(SendStatus send)
        {
            var channels = new ChannelStatus[send.Channels.Length];
            for (var i = 0; i < send.Channels.Length; i++)
            {
                var s = send.Channels[i];
                var index = _channelIndex[s.Id];
                channels[i] = _receiveChannels[index] is { } r
                    ? new ChannelStatus(s.Id, s.Priority, s.QueueSize, s.SendQueueCapacity, s.RecentlySent, s.PendingBytes,
                        r.Unacknowledged, r.Bound, r.UnacknowledgedBytes, r.WindowBytes)
                    : new ChannelStatus(s.Id, s.Priority, s.QueueSize, s.SendQueueCapacity, s.RecentlySent, s.PendingBytes,
                        0, ReceiveWindow.BoundOf(_channels[index]), 0, _settings.ReceiveWindowBytes); // never received on
            }
            if (_status.Running)
                TakeStatusTicks(_clock.Now);
            return new MConnection.ConnectionStatus(channels, send.BytesSent, _status.Bytes, send.SendRate, _status.Rate,
                ReceivePaused);
        }

        /// <summary>Takes every status tick due at <paramref name="now"/>; the first that finds nothing read since the one before stops them.</summary>
        private void TakeStatusTicks(TimeSpan now)
        {
            while (_status.TickDue(now))
            {
                if (_status.Rate == 0)
                {
                    _status.Stop();
                    return;
                }
            }
        }

        // ---- liveness ----

        /// <summary>
        /// Notes when reading pauses because of us, and when it resumes: a pong deadline that passed meanwhile starts
        /// again in full. Then pushes what the send stage must know, if it has pulled.
        /// </summary>
        private void ReportPause()
        {
            var paused = ReceivePaused;
            if (paused != _readsPaused)
            {
                _readsPaused = paused;
                if (!paused && _pongTimeoutDeferred && !_livenessStopped)
                {
                    _pongTimeoutDeferred = false;
                    ScheduleOnce(PongTimer, _settings.PongTimeout);
                }
            }
            FlushSignal();
        }

        private void OnPongRead()
        {
            _pingPong.OnPongReceived();
            _pongTimeoutDeferred = false;
            CancelTimer(PongTimer);
        }

        /// <summary>A direction has ended: no more pings, and no pong can be required.</summary>
        private void StopLiveness()
        {
            _livenessStopped = true;
            CancelTimer(PingTimer);
            CancelTimer(PongTimer);
            _pongTimeoutDeferred = false;
            if (_signal is not null)
                _signal.PingDue = false;
        }

        private void FlushSignal()
        {
            if (_signal is null || !IsAvailable(_liveness)) return;
            Push(_liveness, _signal);
            _signal = null;
        }

        // ---- receiving ----

        private void OnPush()
        {
            var chunk = Grab(_in);
            var now = _clock.Now;
            TakeStatusTicks(now);
            _status.Count(now, chunk.Count);
            if (_limit.Bucket.Limited)
            {
                _limit.CatchUp(now);
                _limit.Bucket.Spend(chunk.Count);
                if (_limit.NeedsTimer && !IsTimerActive(RefillTimer))
                {
                    ScheduleRepeatedly(RefillTimer, _limit.Tick);
                    _refillProbe?.Receive(true);
                }
            }
            try
            {
                _decoder.Decode(chunk.ToReadOnlySpan(), _onPacket); // whole packets read in place, not copied first
            }
            catch (PeerConnectionException e)
            {
                TellDelivered(); // what came before the violation was whole and valid
                FailStage(e);
                return;
            }
            TellDelivered();
            ReportBufferedBytes();
            MaybePull();
            ReportPause();
        }

        /// <summary>Tells the owner the reassembly bytes when they moved by a report step, or reached zero.</summary>
        private void ReportBufferedBytes()
        {
            if (!_settings.ReportBufferedBytes) return;
            var change = Math.Abs(_partialBytes - _partialBytesReported);
            if (change < BufferedBytesReportStep && (_partialBytes != 0 || change == 0)) return;
            _partialBytesReported = _partialBytes;
            _owner.Tell(new BufferedBytes(_partialBytes));
        }

        private void OnPacket(Packet.SumOneofCase kind, int channelId, bool eof, ReadOnlySpan<byte> data)
        {
            switch (kind)
            {
                case Packet.SumOneofCase.PacketPing:
                    Signal.PongOwed = true; // a burst of pings owes one pong
                    break;
                case Packet.SumOneofCase.PacketPong:
                    OnPongRead();
                    break;
                case Packet.SumOneofCase.PacketMsg:
                    if (_reassembler.Accept(channelId, eof, data) is { } message)
                    {
                        _partialBytes -= message.Length - data.Length; // the message is what was held plus this packet
                        var index = _channelIndex[channelId];
                        Receive(_receiveChannels[index] ??= new ReceiveWindow(_channels[index], _settings.ReceiveWindowBytes), message);
                    }
                    else
                    {
                        _partialBytes += data.Length;
                    }
                    break;
            }
        }

        private void Receive(ReceiveWindow ch, byte[] message)
        {
            if (ch.IsFull)
            {
                ch.Hold(message);
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
            if (_inputFinished || IsClosed(_in) || HasBeenPulled(_in) || _channelsAtBound > 0 || _budgetPaused || BudgetSpent) return;
            Pull(_in);
        }

        private void OnUpstreamFinish()
        {
            try
            {
                _decoder.Complete();
                foreach (var ch in _channels)
                {
                    var partial = _reassembler.BufferedBytes(ch.Id);
                    if (partial > 0)
                        throw new ProtocolViolationException(ProtocolViolation.UnexpectedEof,
                            $"stream ended inside a message on channel 0x{ch.Id:x2} ({partial} bytes received)");
                }
            }
            catch (PeerConnectionException e)
            {
                FailStage(e);
                return;
            }
            // The connection is ending: what was already received goes to the owner regardless of the bound, which
            // only exists to pause reading.
            foreach (var ch in _receiveChannels)
                while (ch is not null && ch.TryTakeHeld(out var message))
                    Deliver(ch, message);
            TellDelivered();
            _inputFinished = true;
            StopLiveness();
            Signal.InputFinished = true;
            ReportPause();
        }

        public override void PostStop() => TellDelivered();
    }
}
