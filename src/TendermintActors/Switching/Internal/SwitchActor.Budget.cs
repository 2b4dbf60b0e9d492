using Akka.Actor;
using Akka.Event;
using TendermintActors.Peers;
using TendermintActors.Peers.Internal;
using TendermintActors.Protocol.Switch;

namespace TendermintActors.Switching;

/// <summary>
/// The node-wide buffer budget (<c>max-buffered-bytes</c>), kept by the switch with the sans-IO
/// <see cref="BufferBudget{TKey}"/>: peers report what they hold (unfinished received messages and unsent messages,
/// by report steps, see <see cref="PeerActor"/>), every handshake in progress counts <see cref="HandshakeReservation"/>;
/// over the budget the largest holders are paused, and dropped with <see cref="PeerStopReason.BudgetExceeded"/> if
/// they are still paused after <see cref="Switch.Settings.BufferedBytesTimeout"/>.
/// </summary>
internal sealed partial class SwitchActor
{
    /// <summary>From a peer actor (the sender): the bytes it holds now.</summary>
    public sealed record BufferedBytes(long Bytes) : IDeadLetterSuppression;

    private sealed record BudgetDeadline
    {
        public static readonly BudgetDeadline Instance = new();
    }

    /// <summary>
    /// What a handshake in progress counts: more than its largest message (a node info is at most 10 KB, SecretConnection
    /// frames 1 KB) plus the stream stages' buffers. An estimate: the handshake timeout bounds how long it is held.
    /// </summary>
    public const long HandshakeReservation = 64 * 1024;

    private BufferBudget<IActorRef>? _budget;
    private TimeSpan? _budgetTimerAt;

    /// <summary>The scheduler's clock (Akka's TestScheduler in specs), as the budget's monotonic time.</summary>
    private TimeSpan BudgetNow => Context.System.Scheduler.Now - DateTimeOffset.UnixEpoch;

    private void InitBudget()
    {
        if (_settings.MaxBufferedBytes <= 0) return;
        _budget = new BufferBudget<IActorRef>(_settings.MaxBufferedBytes, _settings.BufferedBytesTimeout);
        _metrics?.BufferBudget(_settings.MaxBufferedBytes);
    }

    private void BudgetHandshakeStarted(IActorRef handshake)
    {
        if (_budget is null) return;
        Apply(_budget.Reserve(handshake, HandshakeReservation, BudgetNow));
    }

    /// <summary>A handshake or peer ended (or a handshake became a peer): what it held is free.</summary>
    private void BudgetReleased(IActorRef actor)
    {
        if (_budget is null) return;
        Apply(_budget.Remove(actor, BudgetNow));
    }

    private void OnBufferedBytes(BufferedBytes report)
    {
        if (_budget is null || !_connections.ContainsKey(Sender)) return; // a peer that has ended already
        Apply(_budget.Report(Sender, report.Bytes, BudgetNow));
    }

    private void OnBudgetDeadline()
    {
        _budgetTimerAt = null;
        if (_budget is null) return;
        // What each paused peer holds, for the stop reason: the budget forgets the dropped.
        var held = _connections.Keys.Where(_budget.IsPaused).ToDictionary(a => a, _budget.UsageOf);
        Apply(_budget.Expire(BudgetNow), held);
    }

    private void Apply(BufferBudgetDecision<IActorRef> decision, IReadOnlyDictionary<IActorRef, long>? held = null)
    {
        var before = _budgetTotalReported;
        _budgetTotalReported = _budget!.TotalBytes;
        if (_budgetTotalReported != before)
            _metrics?.BufferedBytesChanged(_budgetTotalReported - before);
        if (!decision.IsNone)
        {
            // Counted before the peers hear of it, so that whoever sees a peer paused also sees it counted.
            if (decision.Pause.Count > 0)
                _metrics?.BufferBudgetPaused(decision.Pause.Count);
            foreach (var actor in decision.Pause)
            {
                _log.Warning("Buffer budget: {Total} of {Max} bytes held; pausing reads from {Peer} ({Bytes} bytes)",
                    _budget.TotalBytes, _budget.MaxBytes, actor.Path.Name, _budget.UsageOf(actor));
                actor.Tell(new PeerActor.PauseReads(true));
            }
            foreach (var actor in decision.Resume)
                actor.Tell(new PeerActor.PauseReads(false));
            foreach (var actor in decision.Drop)
                actor.Tell(new Peer.Stop(PeerStopReason.BudgetExceeded(held?.GetValueOrDefault(actor) ?? 0, _budget.PauseTimeout), Graceful: false));
        }
        ScheduleBudgetDeadline();
    }

    private long _budgetTotalReported;

    private void ScheduleBudgetDeadline()
    {
        var next = _budget!.NextDeadline;
        if (next == _budgetTimerAt) return;
        _budgetTimerAt = next;
        if (next is { } at)
            After(BudgetDeadline.Instance, BudgetDeadline.Instance, at - BudgetNow);
        else
            Timers.Cancel(BudgetDeadline.Instance);
    }
}
