using Akka.Streams;
using Akka.Streams.Stage;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// The MConnection's liveness part (<see cref="MConnectionStage"/>), joined on top of the send and receive paths: from
/// what the receive stage read it decides what the send stage must write. A ping read owes one pong (a burst of them
/// too); every ping interval a ping is due, and its pong must be read within the pong timeout or the connection fails
/// with <see cref="PeerTimeoutException"/>. While reads are paused by us the deadline is not held against the remote:
/// it starts again when reading resumes. Once either direction has ended, no more pings go out and no pong is awaited.
/// </summary>
internal sealed class PingPongStage : GraphStage<FlowShape<LinkSignal, LivenessSignal>>
{
    private readonly MConnectionSettings _settings;

    public PingPongStage(MConnectionSettings settings)
    {
        _settings = settings;
        Shape = new FlowShape<LinkSignal, LivenessSignal>(new Inlet<LinkSignal>("PingPong.in"), new Outlet<LivenessSignal>("PingPong.out"));
    }

    public override FlowShape<LinkSignal, LivenessSignal> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("mconnection-pingpong");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : TimerLogic
    {
        private const string PingTimer = "ping";
        private const string PongTimer = "pong";

        private readonly Inlet<LinkSignal> _in;
        private readonly Outlet<LivenessSignal> _out;
        private readonly MConnectionSettings _settings;
        private PingPongState _pingPong = null!;
        private StageClock _clock;
        private LivenessSignal? _signal; // gathered for the send stage, pushed once it has pulled
        private bool _readsPaused;
        // The pong deadline passed while we were not reading: the remote gets a fresh timeout once we read again.
        private bool _pongTimeoutDeferred;
        private bool _stopped;

        public Logic(PingPongStage stage) : base(stage.Shape)
        {
            _in = stage.Shape.Inlet;
            _out = stage.Shape.Outlet;
            _settings = stage._settings;
            SetHandler(_in, new InHandlerOf<Logic>(this, static l => l.OnSignal()));
            SetHandler(_out, new OutHandlerOf<Logic>(this, static l => l.Flush(), static (l, cause) =>
            {
                if (cause is SubscriptionWithCancelException.NonFailureCancellation)
                    l.CompleteStage();
                else
                    l.FailStage(cause);
            }));
        }

        private LivenessSignal Signal => _signal ??= new LivenessSignal();

        public override void PreStart()
        {
            _clock = new StageClock(Materializer);
            _pingPong = new PingPongState(_settings.PingInterval, _settings.PongTimeout, _clock.Now);
            ScheduleRepeatedly(PingTimer, _settings.PingInterval);
            Pull(_in);
        }

        protected override void OnTimer(object timerKey)
        {
            switch (timerKey)
            {
                case PingTimer:
                    var awaitingPong = _pingPong.PongDeadline is not null;
                    _pingPong.OnPingSent(_clock.Now);
                    // An earlier ping still unanswered keeps its deadline. It runs from now, before the send stage
                    // writes the ping, so that whoever sees the ping knows the deadline is already running.
                    if (!awaitingPong && !_pongTimeoutDeferred)
                        ScheduleOnce(PongTimer, _settings.PongTimeout);
                    Signal.PingDue = true;
                    Flush();
                    break;
                case PongTimer:
                    if (_readsPaused)
                        _pongTimeoutDeferred = true;
                    else
                        FailStage(PeerTimeoutException.Pong(_settings.PongTimeout));
                    break;
            }
        }

        private void OnSignal()
        {
            var signal = Grab(_in);
            Pull(_in);
            if (signal.PingReceived)
                Signal.PongOwed = true;
            if (signal.PongReceived)
            {
                _pingPong.OnPongReceived();
                _pongTimeoutDeferred = false;
                CancelTimer(PongTimer);
            }
            if (signal.ReadsPaused is { } paused)
            {
                _readsPaused = paused;
                if (!paused && _pongTimeoutDeferred && !_stopped)
                {
                    _pongTimeoutDeferred = false;
                    ScheduleOnce(PongTimer, _settings.PongTimeout);
                }
            }
            if (signal.OutputClosed || signal.InputFinished)
                Stop();
            if (signal.InputFinished)
                Signal.InputFinished = true;
            Flush();
        }

        /// <summary>A direction has ended: no more pings, and no pong can be required.</summary>
        private void Stop()
        {
            _stopped = true;
            CancelTimer(PingTimer);
            CancelTimer(PongTimer);
            _pongTimeoutDeferred = false;
            if (_signal is not null)
                _signal.PingDue = false;
        }

        private void Flush()
        {
            if (_signal is null || !IsAvailable(_out)) return;
            Push(_out, _signal);
            _signal = null;
        }
    }
}
