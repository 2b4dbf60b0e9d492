using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// The MConnection as a graph of two stages, fused in one interpreter (docs/architecture.md, "MConnection stages"). The
/// send stage (<see cref="MConnectionSendStage"/>: the handle's commands, the scheduler, batching and the send rate
/// limit) writes plaintext; the receive stage (<see cref="MConnectionReceiveStage"/>: the receive rate limit, the
/// decoder, reassembly, the receive windows, and the ping/pong rules with their timers) reads it. The receive stage
/// tells the send stage what liveness asks it to write (pongs, pings) and when the remote's direction has ended; the
/// send stage hands the receive stage what the handle asked of it (acknowledgements, status requests) on a control
/// edge. The stages share nothing: every fact crosses an edge as an element.
/// </summary>
internal static class MConnectionStage
{
    /// <summary>How often the rate limits' budgets are refilled (at most; FlushThrottle if shorter).</summary>
    internal static readonly TimeSpan MaxRefillTick = TimeSpan.FromMilliseconds(10);

    /// <summary>The whole MConnection: plaintext in, plaintext out; its handle as the materialised value.</summary>
    // owner: null for a blueprint whose owner comes with each materialisation (ConnectionOwner).
    internal static Flow<ByteString, ByteString, MConnectionHandle> Create(
        MConnectionSettings settings, ChannelDescriptor[] channels, IActorRef? owner) =>
        Flow.FromGraph(GraphDsl.Create(new MConnectionSendStage(settings, channels, owner), (builder, send) =>
        {
            var receive = builder.Add(new MConnectionReceiveStage(settings, channels, owner));
            builder.From(receive.Out).To(send.In);
            builder.From(send.Out1).To(receive.In1);
            return new FlowShape<ByteString, ByteString>(receive.In0, send.Out0);
        })).Named("mconnection");
}

/// <summary>
/// The owner of one materialisation of an MConnection built without one (a blueprint fused once and run per peer,
/// <see cref="MConnectionBlueprint"/>): given as an attribute when the graph is materialised.
/// </summary>
internal sealed record ConnectionOwner(IActorRef Actor) : Attributes.IAttribute
{
    /// <summary>The stage's own owner, else the one the materialisation carries.</summary>
    public static IActorRef Of(IActorRef? stageOwner, Attributes attributes) =>
        stageOwner ?? attributes.GetAttribute<ConnectionOwner>()?.Actor
        ?? throw new InvalidOperationException("an MConnection built without an owner was materialised without a ConnectionOwner attribute");
}

/// <summary>
/// What the send stage hands the receive stage, in the order the handle was called: acknowledgements and status
/// requests (each carrying the send side's part of the status). Also says when our output has closed (no more pings).
/// Two instances alternate: one is in flight while the other fills.
/// </summary>
internal sealed class ReceiveCommands
{
    public List<ReceiveCommand> Items { get; } = [];

    /// <summary>Our direction has completed after a graceful close: no more pings, no pong timeout.</summary>
    public bool OutputClosed { get; set; }

    public bool IsEmpty => Items.Count == 0 && !OutputClosed;

    public void Clear()
    {
        Items.Clear();
        OutputClosed = false;
    }
}

/// <summary>
/// An acknowledgement (<see cref="SendStatus"/> and <see cref="BudgetPause"/> null), a status request, or the node's
/// buffer budget pausing (true) or resuming (false) reads.
/// </summary>
internal readonly record struct ReceiveCommand(byte Channel, int Count, SendStatus? SendStatus, bool? BudgetPause = null);

/// <summary>The send side's part of a <see cref="MConnection.ConnectionStatus"/>, taken when the request was drained.</summary>
internal sealed record SendStatus(ChannelSendStatus[] Channels, long BytesSent, long SendRate);

/// <summary>What the receive stage tells the send stage: facts since the last push.</summary>
internal sealed class LivenessSignal
{
    /// <summary>A ping (or a burst of them) was read: write one pong.</summary>
    public bool PongOwed { get; set; }

    /// <summary>The ping interval has passed: write a ping (its pong deadline is already running).</summary>
    public bool PingDue { get; set; }

    /// <summary>The remote has ended its direction, and all it wrote was whole and has been delivered.</summary>
    public bool InputFinished { get; set; }
}

/// <summary>
/// One direction's rate limit as a stage runs it: a <see cref="TokenBucket"/> holding up to one FlushThrottle's worth
/// of bytes (at least three ticks' worth), credited with what the rate earned since the last credit. While bytes
/// leave budget behind, the stage credits the time that passed before each spend (<see cref="CatchUp"/>) and runs no
/// timer: a ping, a pong or a gossip message now and then costs no timer and no wake-up. Once a spend leaves nothing,
/// a timer refills the bucket every <see cref="Tick"/> (waking the stage that waits for budget) until a tick finds the
/// bucket full.
/// </summary>
internal sealed class RateLimit
{
    private TimeSpan _lastRefill;

    public RateLimit(long rate, TimeSpan flushThrottle)
    {
        Tick = flushThrottle < MConnectionStage.MaxRefillTick ? flushThrottle : MConnectionStage.MaxRefillTick;
        // At least three ticks' worth, so that a tick the scheduler delivers late (its wheel turns every 10 ms) does
        // not hit the cap with what it earned.
        var burstPeriod = flushThrottle > 3 * MConnectionStage.MaxRefillTick ? flushThrottle : 3 * MConnectionStage.MaxRefillTick;
        Bucket = new TokenBucket(rate, burstPeriod);
        TickBudget = TokenBucket.Budget(rate, Tick);
    }

    public TokenBucket Bucket { get; }

    /// <summary>How often the timer refills the bucket.</summary>
    public TimeSpan Tick { get; }

    /// <summary>One tick's worth of bytes.</summary>
    public long TickBudget { get; }

    /// <summary>
    /// Credits what the rate earned from the last credit until <paramref name="now"/> (the bucket caps it; a clock
    /// that stepped back credits nothing); called before each spend while no refill timer runs. True when a new quiet
    /// period starts: a tick or more since the last one began, however often the stage spent meanwhile (the send stage
    /// then starts its scheduler's quiet period, as at each of the timer's refills).
    /// </summary>
    public bool CatchUp(TimeSpan now)
    {
        Bucket.Refill(now - _lastRefill);
        _lastRefill = now;
        return NewQuietPeriod(now);
    }

    /// <summary>Whether a spend left nothing, so that the stage must run the refill timer to wait for budget.</summary>
    public bool NeedsTimer => !Bucket.HasBudget;

    /// <summary>
    /// A refill tick at <paramref name="now"/>; true when the timer may stop: the tick found the bucket full. The timer
    /// runs while a stage spends faster than the rate and until the bucket has filled up again, rather than stopping
    /// as soon as there is budget: restarted at every spend, it would first fire up to a scheduler tick late each
    /// time. A tick always starts a quiet period.
    /// </summary>
    public bool Refill(TimeSpan now)
    {
        // A clock that steps back (a scheduler's wall clock, StageClock) takes no budget away (TokenBucket.Refill).
        var elapsed = now - _lastRefill;
        _lastRefill = now;
        var idle = Bucket.IsFull;
        Bucket.Refill(elapsed);
        _quietPeriodStart = now;
        return idle;
    }

    private TimeSpan _quietPeriodStart;

    private bool NewQuietPeriod(TimeSpan now)
    {
        if (now - _quietPeriodStart < Tick && now >= _quietPeriodStart) return false;
        _quietPeriodStart = now;
        return true;
    }
}

/// <summary>
/// A stage's clock, for bookkeeping: the rate limits' credit between refill timers (<see cref="RateLimit.CatchUp"/>)
/// and the status ticks (<see cref="StatusTicks"/>); waiting is done by timers. Under Akka's own scheduler, and under a
/// sub-fusing materializer, which has no system to ask, a stopwatch's timestamp: monotonic, as the scheduler's timers
/// are, where the scheduler's <c>Now</c> is the system's clock, which can step. Under any other scheduler (Akka's
/// TestScheduler in specs, which moves its <c>Now</c> by hand), that scheduler's <c>Now</c>. A value kept in the
/// stage's logic (an object and a stopwatch each cost three stages of every idle peer ~0.25 KiB).
/// </summary>
internal readonly struct StageClock
{
    private readonly ITimeProvider? _clock;
    private readonly DateTimeOffset _epoch;
    private readonly long _started;

    public StageClock(IMaterializer materializer)
    {
        var scheduler = (materializer as ActorMaterializer)?.System.Scheduler;
        _clock = scheduler is HashedWheelTimerScheduler ? null : scheduler;
        _epoch = _clock?.Now ?? default;
        _started = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    public TimeSpan Now => _clock is null ? System.Diagnostics.Stopwatch.GetElapsedTime(_started) : _clock.Now - _epoch;
}
