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
/// The MConnection's receive path (<see cref="MConnectionStage"/>): reads plaintext (in0, through the
/// <see cref="ReceiveRateLimitStage"/>, which says when its budget is spent on in2) while every channel's receive
/// window has room, decodes packets in place, reassembles messages and tells them to the owner; takes
/// acknowledgements and status requests from the send stage (in1) and tells the ping/pong stage what it read (out). It stays until the send stage ends the connection, also after the remote has ended its direction.
/// </summary>
internal sealed class MConnectionReceiveStage : GraphStage<FanInShape<ByteString, ReceiveCommands, ReceiveBudget, LinkSignal>>
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
        Shape = new FanInShape<ByteString, ReceiveCommands, ReceiveBudget, LinkSignal>(
            new Outlet<LinkSignal>("MConnection.signals"),
            new Inlet<ByteString>("MConnection.in"),
            new Inlet<ReceiveCommands>("MConnection.commands"),
            new Inlet<ReceiveBudget>("MConnection.budget"));
    }

    public override FanInShape<ByteString, ReceiveCommands, ReceiveBudget, LinkSignal> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("mconnection-receive");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) =>
        new Logic(this, ConnectionOwner.Of(_owner, inheritedAttributes));

    // No timer: its status ticks are taken when due (StatusTicks).
    private sealed class Logic : GraphStageLogic
    {
        private readonly Inlet<ByteString> _in;
        private readonly Inlet<ReceiveCommands> _commands;
        private readonly Inlet<ReceiveBudget> _budget;
        private readonly Outlet<LinkSignal> _signals;
        private readonly MConnectionSettings _settings;
        private readonly IActorRef _owner;
        private readonly Reassembler _reassembler;
        private readonly PacketDecoder _decoder;
        private readonly PacketDecoder.PacketHandler _onPacket; // OnPacket, made a delegate once
        private readonly ChannelIndex _channelIndex;
        private readonly ReceiveWindow[] _receiveChannels; // in the channels' order (_channelIndex)
        // Messages delivered but not yet told to the owner: told together at the end of each read (or ack).
        private readonly List<ReceivedMessage> _delivered = [];
        private bool _budgetSpent;
        private LinkSignal? _signal; // facts gathered for the ping/pong stage, pushed once it has pulled
        private bool _pausedReported;
        private bool _budgetPaused; // the node's buffer budget stopped our reads
        private long _partialBytes; // unfinished messages held by the reassembler, all channels
        private long _partialBytesReported;

        private int _channelsAtBound;
        private bool _inputFinished;
        // Bytes read and the receive rate: ticks taken when due, no timer.
        private StatusTicks _status;
        private StageClock _clock;

        public Logic(MConnectionReceiveStage stage, IActorRef owner) : base(stage.Shape)
        {
            _in = stage.Shape.In0;
            _commands = stage.Shape.In1;
            _budget = stage.Shape.In2;
            _signals = stage.Shape.Out;
            _settings = stage._settings;
            _status = new StatusTicks(_settings.StatusDecayInterval);
            _owner = owner;
            _reassembler = new Reassembler(stage._channels, stage._channelIndex);
            _decoder = new PacketDecoder(PacketCodec.MaxPacketSize(_settings.MaxPacketMsgPayloadSize));
            _onPacket = OnPacket;
            _channelIndex = stage._channelIndex;
            _receiveChannels = new ReceiveWindow[stage._channels.Length];
            for (var i = 0; i < stage._channels.Length; i++)
                _receiveChannels[i] = new ReceiveWindow(stage._channels[i], _settings.ReceiveWindowBytes);

            SetHandler(_in, new InHandlerOf<Logic>(this, static l => l.OnPush(), static l => l.OnUpstreamFinish(), static (l, e) => l.FailStage(e)));
            // The send stage ends the connection: its end (or failure) is ours.
            SetHandler(_commands, new InHandlerOf<Logic>(this, static l => l.OnCommands(), static l => l.CompleteStage(), static (l, e) => l.FailStage(e)));
            // The rate limit stage ends with the input (OnUpstreamFinish), or fails the input too.
            SetHandler(_budget, new InHandlerOf<Logic>(this, static l => l.OnBudget(), static _ => { }, static (l, e) => l.FailStage(e)));
            SetHandler(_signals, new OutHandlerOf<Logic>(this, static l => l.FlushSignals(), static (l, cause) =>
            {
                if (cause is SubscriptionWithCancelException.NonFailureCancellation)
                    l.CompleteStage();
                else
                    l.FailStage(cause);
            }));
        }

        /// <summary>
        /// Reads stop because of us, not the remote: a channel at its bound (we do not ask the rate limit stage for
        /// more), the receive budget spent (it does not read on though we asked), or the node's buffer budget (the
        /// read already asked for is taken, then no more).
        /// </summary>
        private bool ReceivePaused => !IsClosed(_in) && (_channelsAtBound > 0 && !HasBeenPulled(_in) || _budgetSpent || _budgetPaused);

        private LinkSignal Signal => _signal ??= new LinkSignal();

        public override void PreStart()
        {
            _clock = new StageClock(Materializer);
            Pull(_commands);
            Pull(_budget);
            MaybePull();
        }

        private void OnBudget()
        {
            _budgetSpent = Grab(_budget).IsSpent;
            Pull(_budget);
            ReportPause();
        }

        // ---- from the send stage ----

        private void OnCommands()
        {
            var commands = Grab(_commands);
            foreach (var command in commands.Items)
            {
                if (command.BudgetPause is { } pause)
                {
                    _budgetPaused = pause;
                }
                else if (command.SendStatus is { } send)
                {
                    _owner.Tell(new MConnection.Status(GetStatus(send)));
                }
                else
                {
                    Ack(command.Channel, command.Count);
                }
            }
            if (commands.OutputClosed)
                Signal.OutputClosed = true;
            TellDelivered();
            MaybePull();
            ReportPause();
            Pull(_commands); // last: the send stage goes on once everything above is told
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

        private MConnection.ConnectionStatus GetStatus(SendStatus send)
        {
            var channels = new ChannelStatus[send.Channels.Length];
            for (var i = 0; i < send.Channels.Length; i++)
            {
                var s = send.Channels[i];
                var r = _receiveChannels[_channelIndex[s.Id]];
                channels[i] = new ChannelStatus(s.Id, s.Priority, s.QueueSize, s.SendQueueCapacity, s.RecentlySent,
                    s.PendingBytes, r.Unacknowledged, r.Bound, r.UnacknowledgedBytes, r.WindowBytes);
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

        // ---- to the ping/pong stage ----

        /// <summary>Tells the ping/pong stage when reading pauses because of us, and when it resumes.</summary>
        private void ReportPause()
        {
            var paused = ReceivePaused;
            if (paused != _pausedReported)
            {
                _pausedReported = paused;
                Signal.ReadsPaused = paused;
            }
            FlushSignals();
        }

        private void FlushSignals()
        {
            if (_signal is null || !IsAvailable(_signals)) return;
            Push(_signals, _signal);
            _signal = null;
        }

        // ---- receiving ----

        private void OnPush()
        {
            var chunk = Grab(_in);
            var now = _clock.Now;
            TakeStatusTicks(now);
            _status.Count(now, chunk.Count);
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
                    Signal.PingReceived = true;
                    break;
                case Packet.SumOneofCase.PacketPong:
                    Signal.PongReceived = true;
                    break;
                case Packet.SumOneofCase.PacketMsg:
                    if (_reassembler.Accept(channelId, eof, data) is { } message)
                    {
                        _partialBytes -= message.Length - data.Length; // the message is what was held plus this packet
                        Receive(_receiveChannels[_channelIndex[channelId]], message);
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
            if (_inputFinished || IsClosed(_in) || HasBeenPulled(_in) || _channelsAtBound > 0 || _budgetPaused) return;
            Pull(_in);
        }

        private void OnUpstreamFinish()
        {
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
                FailStage(e);
                return;
            }
            // The connection is ending: what was already received goes to the owner regardless of the bound, which
            // only exists to pause reading.
            foreach (var ch in _receiveChannels)
                while (ch.Held.TryDequeue(out var message))
                    Deliver(ch, message);
            TellDelivered();
            _inputFinished = true;
            Signal.InputFinished = true;
            ReportPause();
        }

        public override void PostStop() => TellDelivered();
    }
}
