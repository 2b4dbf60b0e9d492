using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// The MConnection's receive rate limit (<c>recv-rate</c>, <see cref="MConnectionStage"/>), on the receive path right
/// above the plaintext: it passes each read on as it is (a lent buffer stays lent: it pulls again only when the receive
/// stage does) and reads again only while the budget lasts. Tells the receive stage (out1) when the budget is spent and
/// when a refill brings it back, so that "reads paused by us" covers the budget too. Without a limit it only passes
/// reads on.
/// </summary>
internal sealed class ReceiveRateLimitStage : GraphStage<FanOutShape<ByteString, ByteString, ReceiveBudget>>
{
    private readonly MConnectionSettings _settings;

    public ReceiveRateLimitStage(MConnectionSettings settings)
    {
        _settings = settings;
        Shape = new FanOutShape<ByteString, ByteString, ReceiveBudget>(
            new Inlet<ByteString>("ReceiveRateLimit.in"),
            new Outlet<ByteString>("ReceiveRateLimit.out"),
            new Outlet<ReceiveBudget>("ReceiveRateLimit.budget"));
    }

    public override FanOutShape<ByteString, ByteString, ReceiveBudget> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("mconnection-recv-rate");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this, inheritedAttributes.GetAttribute<RefillProbe>());

    private sealed class Logic : TimerLogic
    {
        private const string RefillTimer = "refill";

        private readonly Inlet<ByteString> _in;
        private readonly Outlet<ByteString> _out;
        private readonly Outlet<ReceiveBudget> _budget;
        private readonly RateLimit _limit;
        private StageClock _clock;
        private bool _spentReported;
        private ReceiveBudget? _pending; // the latest change not yet pushed
        private readonly RefillProbe? _refillProbe;

        public Logic(ReceiveRateLimitStage stage, RefillProbe? refillProbe) : base(stage.Shape)
        {
            _refillProbe = refillProbe;
            _in = stage.Shape.In;
            _out = stage.Shape.Out0;
            _budget = stage.Shape.Out1;
            _limit = new RateLimit(TokenBucket.ReceiveAllowance(stage._settings.RecvRate), stage._settings.FlushThrottle);
            SetHandler(_in, new InHandlerOf<Logic>(this, static l => l.OnPush(), static l => l.CompleteStage(), static (l, e) => l.FailStage(e)));
            SetHandler(_out, new OutHandlerOf<Logic>(this, static l => l.MaybePull(), static (l, cause) => l.OnDownstreamFinish(cause)));
            SetHandler(_budget, new OutHandlerOf<Logic>(this, static l => l.FlushBudget(), static (l, cause) => l.OnDownstreamFinish(cause)));
        }

        public override void PreStart() => _clock = new StageClock(Materializer);

        private void OnPush()
        {
            var chunk = Grab(_in);
            if (_limit.Bucket.Limited)
            {
                _limit.CatchUp(_clock.Now);
                _limit.Bucket.Spend(chunk.Count);
                if (_limit.NeedsTimer)
                    EnsureRefilling();
            }
            Push(_out, chunk);
            Report();
        }

        protected override void OnTimer(object timerKey)
        {
            if (_limit.Refill(_clock.Now))
            {
                CancelTimer(RefillTimer);
                _refillProbe?.Receive(false);
            }
            Report();
            MaybePull();
        }

        private void MaybePull()
        {
            if (_limit.Bucket.HasBudget && IsAvailable(_out) && !HasBeenPulled(_in) && !IsClosed(_in))
                Pull(_in);
        }

        private void EnsureRefilling()
        {
            if (IsTimerActive(RefillTimer)) return;
            ScheduleRepeatedly(RefillTimer, _limit.Tick);
            _refillProbe?.Receive(true);
        }

        private void Report()
        {
            var spent = !_limit.Bucket.HasBudget;
            if (spent == _spentReported) return;
            _spentReported = spent;
            _pending = spent ? ReceiveBudget.Spent : ReceiveBudget.Available;
            FlushBudget();
        }

        private void FlushBudget()
        {
            if (_pending is null || !IsAvailable(_budget)) return;
            Push(_budget, _pending);
            _pending = null;
        }

        private void OnDownstreamFinish(Exception cause)
        {
            if (cause is SubscriptionWithCancelException.NonFailureCancellation)
                CompleteStage();
            else
                FailStage(cause);
        }
    }
}

/// <summary>The receive budget's state, told by <see cref="ReceiveRateLimitStage"/> when it changes.</summary>
internal sealed class ReceiveBudget
{
    public static readonly ReceiveBudget Spent = new(true);
    public static readonly ReceiveBudget Available = new(false);

    private ReceiveBudget(bool spent) => IsSpent = spent;

    /// <summary>No more reads until a refill brings the budget above zero.</summary>
    public bool IsSpent { get; }
}
