using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// Joins two separately materialised streams of one connection: the lower part (transport and SecretConnection),
/// which runs from the first byte, and the upper part (the MConnection), which a peer actor materialises in its own
/// context once the switch has admitted the remote. <see cref="Lower"/> goes on the SecretConnection's plaintext side;
/// <see cref="Upper"/> is what the MConnection joins, at most once, possibly long after. Until then, what the lower
/// part has to say (its end, its failure) is kept and given to the upper part when it attaches.
/// </summary>
/// <remarks>
/// Each direction is a pipe that carries one element at a time: its sink end pulls its upstream only after the
/// source end was pulled again, so an element that upstream lends (valid until it is pulled again) stays valid
/// until downstream is done with it. The one exception: before the upper part attaches, the lower part reads ahead up
/// to <c>prefetchBytes</c> of plaintext (copying it), as the MConnection would have. Ends, failures and cancellations
/// cross in both directions; an end whose stream stops abruptly (its actor stopped) fails the other side with an
/// <see cref="AbruptStageTerminationException"/> (the peer's ordinary "stopped" reason), so that stopping either
/// stream ends the other.
/// </remarks>
internal sealed class ConnectionHandover(long prefetchBytes) : Attributes.IAttribute
{
    private readonly long _prefetchBytes = prefetchBytes;
    private readonly Pipe _up = new(); // lower (opened plaintext) → upper (MConnection input)
    private readonly Pipe _down = new(); // upper (MConnection output) → lower (plaintext to seal)

    /// <summary>For the lower stream, in place of the MConnection: opened plaintext in, plaintext to seal out.</summary>
    public Flow<ByteString, ByteString, NotUsed> Lower =>
        Flow.FromSinkAndSource(Sink.FromGraph(new SinkEnd(this, upper: false)), Source.FromGraph(new SourceEnd(this, upper: false)));

    /// <summary>For the upper stream: join the MConnection to it (its output in, the remote's plaintext out).</summary>
    public Flow<ByteString, ByteString, NotUsed> Upper =>
        Flow.FromSinkAndSource(Sink.FromGraph(new SinkEnd(this, upper: true)), Source.FromGraph(new SourceEnd(this, upper: true)));

    /// <summary>
    /// <see cref="Upper"/> for any handover: each materialisation attaches to the one given as an attribute (this class
    /// is one), so that a graph built on it can be fused once and run for every peer (<see cref="MConnectionBlueprint"/>).
    /// </summary>
    public static Flow<ByteString, ByteString, NotUsed> UpperOfAny =>
        Flow.FromSinkAndSource(Sink.FromGraph(new SinkEnd(null, upper: true)), Source.FromGraph(new SourceEnd(null, upper: true)));

    /// <summary><see cref="Lower"/> for any handover: each materialisation attaches to the one given as an attribute.</summary>
    public static Flow<ByteString, ByteString, NotUsed> LowerOfAny =>
        Flow.FromSinkAndSource(Sink.FromGraph(new SinkEnd(null, upper: false)), Source.FromGraph(new SourceEnd(null, upper: false)));

    /// <summary>The stage's own handover, else the one its materialisation carries.</summary>
    private static ConnectionHandover Of(ConnectionHandover? own, Attributes attributes) =>
        own ?? attributes.GetAttribute<ConnectionHandover>()
        ?? throw new InvalidOperationException("a handover end built without its handover was materialised without one as an attribute");

    // The upper part's two ends count down here as they stop (normally or not).
    private int _upperEndsRunning = 2;
    private readonly TaskCompletionSource _upperEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes once both ends of the upper part have stopped, so that everything the MConnection wrote has been
    /// handed to the lower part and its ends have been told. Until then, stopping the upper stream's actor would end
    /// the lower part abruptly (the socket reset) rather than after its orderly close.
    /// </summary>
    public Task UpperEnded => _upperEnded.Task;

    private void UpperEndStopped()
    {
        if (Interlocked.Decrement(ref _upperEndsRunning) == 0)
            _upperEnded.TrySetResult();
    }

    // The lower source end's callback (set in its PreStart), to which the lower sink end, in the same stream, signals
    // CloseEarly: see SinkEnd.OnUpstreamEnd.
    private Action<object>? _lowerSourceSignals;

    /// <summary>No upper part will come: ends the lower part's waiting ends with <paramref name="reason"/>.</summary>
    public void Abandon(Exception reason)
    {
        _up.Abandon(sinkEnd: false, reason);
        _down.Abandon(sinkEnd: true, reason);
    }

    // What the ends of a pipe signal each other, each through the other's one async callback (an async callback costs
    // an idle connection ~0.2 KiB; one per end instead of one per kind of signal). To a source end: an element (the
    // ByteString itself), Ended, CloseEarly (lower only), or Attached. To a sink end: Demand, Cancelled, or Attached.
    private sealed record Ended(Exception? Failure);

    /// <summary>The other end of the pipe has published its callback (<see cref="Partner"/>), or the pipe was abandoned before it did (<see cref="Failure"/>).</summary>
    private sealed record Attached(Action<object>? Partner, Exception? Failure);

    private sealed record Cancelled(Exception? Cause);

    private sealed class Demand
    {
        public static readonly Demand Instance = new();
    }

    private sealed class CloseEarly
    {
        public static readonly CloseEarly Instance = new();
    }

    /// <summary>
    /// One direction: each end publishes its callback once and hears <see cref="Attached"/> with the other's, whichever
    /// publishes first (two task completion sources did this for ~0.45 KiB per connection, kept for its life).
    /// </summary>
    private sealed class Pipe
    {
        // Null until that end publishes its callback (Action<object>), or the reason the pipe was abandoned before it did.
        private object? _sink;
        private object? _source;

        /// <summary>
        /// Publishes one end's <paramref name="signals"/>; returns the reason the pipe was abandoned if it was before
        /// (then nothing is published). Otherwise the end hears <see cref="Attached"/> once the other end has published
        /// too, or abandonment.
        /// </summary>
        public Exception? Publish(bool sinkEnd, Action<object> signals)
        {
            ref var mine = ref sinkEnd ? ref _sink : ref _source;
            ref var theirs = ref sinkEnd ? ref _source : ref _sink;
            if (Interlocked.CompareExchange(ref mine, signals, null) is Exception abandoned)
                return abandoned;
            // The two ends may publish at once. Each looks for the other after publishing (the exchange is a full
            // fence), so at least one of them finds the other and tells both; a second Attached is ignored.
            switch (Volatile.Read(ref theirs))
            {
                case Action<object> partner:
                    signals(new Attached(partner, null));
                    partner(new Attached(signals, null));
                    break;
                case Exception reason:
                    signals(new Attached(null, reason));
                    break;
            }
            return null;
        }

        /// <summary>
        /// No end will come on the <paramref name="sinkEnd"/> side, unless it has published already: the other end
        /// hears <paramref name="reason"/>, and that side fails with it if it comes after all.
        /// </summary>
        public void Abandon(bool sinkEnd, Exception reason)
        {
            ref var slot = ref sinkEnd ? ref _sink : ref _source;
            ref var other = ref sinkEnd ? ref _source : ref _sink;
            if (Interlocked.CompareExchange(ref slot, reason, null) is not null)
                return;
            // As in Publish: the other end, publishing at once, finds the reason itself if we do not find it here.
            if (Volatile.Read(ref other) is Action<object> partner)
                partner(new Attached(null, reason));
        }
    }

    /// <summary>The end that takes elements: the lower part's (opened plaintext) or, when <paramref name="upper"/>, the upper part's (MConnection output).</summary>
    private sealed class SinkEnd(ConnectionHandover? handover, bool upper) : GraphStage<SinkShape<ByteString>>
    {
        private readonly Inlet<ByteString> _in = new("handover.in");

        public override SinkShape<ByteString> Shape => new(_in);

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes)
        {
            var of = Of(handover, inheritedAttributes);
            return upper ? new Logic(this, of._down, null, of) : new Logic(this, of._up, of, null);
        }

        private sealed class Logic : InGraphStageLogic
        {
            private readonly Pipe _pipe;
            private readonly Inlet<ByteString> _in;
            private readonly ConnectionHandover? _lowerOf;
            // Before the upper part attaches, the lower sink end reads ahead up to the prefetch bound (copies, since
            // upstream may lend), so that a remote that sends a little and closes is seen to close.
            private readonly Queue<ByteString> _held = new();
            private long _heldBytes;
            private Action<object>? _partner; // the source end's callback
            private bool _wanted; // the source end asked for an element that it has not had yet
            private bool _upstreamEnded;
            private Exception? _upstreamFailure;
            private bool _done;

            private readonly ConnectionHandover? _upperOf;

            protected override object LogSource => "handover";

            // Not base(Shape), which makes a log source with the shape's text for every logic (see TimerLogic).
            public Logic(SinkEnd stage, Pipe pipe, ConnectionHandover? lowerOf, ConnectionHandover? upperOf) : base(inCount: 1, outCount: 0)
            {
                _pipe = pipe;
                _lowerOf = lowerOf;
                _upperOf = upperOf;
                _in = stage._in;
                SetHandler(_in, this);
            }

            private long PrefetchBytes => _lowerOf?._prefetchBytes ?? 0;

            public override void PreStart()
            {
                // Kept alive after its upstream ended until the other end has heard of it.
                SetKeepGoing(true);
                var signals = GetAsyncCallback<object>(OnSignal);
                if (_pipe.Publish(sinkEnd: true, signals) is { } abandoned)
                {
                    OnCancel(abandoned);
                    return;
                }
                if (PrefetchBytes > 0) Pull(_in);
            }

            private void OnSignal(object signal)
            {
                switch (signal)
                {
                    case Demand:
                        OnDemand();
                        break;
                    case Cancelled cancelled:
                        OnCancel(cancelled.Cause);
                        break;
                    case Attached attached:
                        OnAttached(attached);
                        break;
                }
            }

            private void OnAttached(Attached attached)
            {
                if (_done || _partner is not null) return;
                if (attached.Partner is null)
                {
                    OnCancel(attached.Failure);
                    return;
                }
                _partner = attached.Partner;
                Serve();
            }

            private void OnDemand()
            {
                if (_done) return;
                _wanted = true;
                Serve();
            }

            /// <summary>Answers the source end's demand from what is held, or pulls upstream for it; ends after the last.</summary>
            private void Serve()
            {
                if (_partner is null) return;
                if (_wanted && _held.TryDequeue(out var element))
                {
                    _heldBytes -= element.Count;
                    _wanted = false;
                    _partner(element);
                }
                if (_held.Count > 0) return;
                if (_upstreamEnded)
                    End();
                else if (_wanted && !HasBeenPulled(_in))
                    Pull(_in);
            }

            private void OnCancel(Exception? cause)
            {
                if (_done) return;
                _done = true;
                CancelStage(cause ?? SubscriptionWithCancelException.NoMoreElementsNeeded.Instance);
            }

            public override void OnPush()
            {
                var element = Grab(_in);
                if (_partner is not null && _wanted && _held.Count == 0)
                {
                    // Pulled for this demand: possibly lent, valid until the source end is pulled again (and asks).
                    _wanted = false;
                    _partner(element);
                    return;
                }
                // Held beyond a demand: upstream may lend it (valid only until pulled again), so keep a copy.
                _held.Enqueue(ByteString.FromBytes(element.ToArray()));
                _heldBytes += element.Count;
                if (_partner is null && _heldBytes < PrefetchBytes) Pull(_in);
            }

            public override void OnUpstreamFinish() => OnUpstreamEnd(null);

            public override void OnUpstreamFailure(Exception e) => OnUpstreamEnd(e);

            private void OnUpstreamEnd(Exception? failure)
            {
                _upstreamEnded = true;
                _upstreamFailure = failure;
                if (_partner is not null)
                    Serve();
                else if (failure is null)
                    // The remote closed before the MConnection attached. Once attached, it would end at once and
                    // close our direction too (docs/protocol.md §5): close it now, so the remote's graceful close
                    // completes while the switch decides; what the remote sent still goes to the MConnection.
                    _lowerOf?._lowerSourceSignals?.Invoke(CloseEarly.Instance);
            }

            private void End()
            {
                if (_done) return;
                _done = true;
                _partner!(new Ended(_upstreamFailure));
                CompleteStage();
            }

            public override void PostStop()
            {
                if (!_done && _partner is not null)
                    _partner(new Ended(new AbruptStageTerminationException(this)));
                _done = true;
                _upperOf?.UpperEndStopped();
            }
        }
    }

    /// <summary>The end that emits elements: the lower part's (plaintext to seal) or, when <paramref name="upper"/>, the upper part's (the remote's plaintext).</summary>
    private sealed class SourceEnd(ConnectionHandover? handover, bool upper) : GraphStage<SourceShape<ByteString>>
    {
        private readonly Outlet<ByteString> _out = new("handover.out");

        public override SourceShape<ByteString> Shape => new(_out);

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes)
        {
            var of = Of(handover, inheritedAttributes);
            return upper ? new Logic(this, of._up, null, of) : new Logic(this, of._down, of, null);
        }

        private sealed class Logic : OutGraphStageLogic
        {
            private readonly Pipe _pipe;
            private readonly Outlet<ByteString> _out;
            private Action<object>? _partner; // the sink end's callback
            private bool _demand; // pulled before the partner's callbacks came
            private bool _cancelled;
            private bool _closedEarly;
            private Exception? _cancelCause;
            private bool _done;

            private readonly ConnectionHandover? _lowerOf;

            private readonly ConnectionHandover? _upperOf;

            protected override object LogSource => "handover";

            public Logic(SourceEnd stage, Pipe pipe, ConnectionHandover? lowerOf, ConnectionHandover? upperOf) : base(inCount: 0, outCount: 1)
            {
                _pipe = pipe;
                _lowerOf = lowerOf;
                _upperOf = upperOf;
                _out = stage._out;
                SetHandler(_out, this);
            }

            public override void PreStart()
            {
                // Kept alive after its downstream cancelled until the other end has heard of it.
                SetKeepGoing(true);
                var signals = GetAsyncCallback<object>(OnSignal);
                if (_lowerOf is not null)
                    _lowerOf._lowerSourceSignals = signals;
                if (_pipe.Publish(sinkEnd: false, signals) is { } abandoned)
                    OnEnd(abandoned);
            }

            private void OnSignal(object signal)
            {
                switch (signal)
                {
                    case ByteString element:
                        OnElement(element);
                        break;
                    case Ended ended:
                        OnEnd(ended.Failure);
                        break;
                    case CloseEarly:
                        CloseOutputEarly();
                        break;
                    case Attached attached:
                        OnAttached(attached);
                        break;
                }
            }

            private void OnAttached(Attached attached)
            {
                if (_done || _partner is not null) return;
                if (attached.Partner is null)
                {
                    OnEnd(attached.Failure);
                    return;
                }
                _partner = attached.Partner;
                if (_cancelled)
                    Cancelled();
                else if (_demand && !_closedEarly)
                {
                    _demand = false;
                    _partner(Demand.Instance);
                }
            }

            // Sent only for a demand, so the outlet is free.
            private void OnElement(ByteString element)
            {
                if (!_done) Push(_out, element);
            }

            private void OnEnd(Exception? failure)
            {
                if (_done) return;
                _done = true;
                if (failure is null)
                    CompleteStage();
                else
                    FailStage(failure);
            }

            public override void OnPull()
            {
                if (_closedEarly) return;
                if (_partner is null)
                    _demand = true;
                else
                    _partner(Demand.Instance);
            }

            /// <summary>
            /// Completes the outlet before the upper part attached. Once it does, it is never asked for output (so the
            /// MConnection, which has the remote's end to read, finishes on its own rather than at our cancel, which
            /// would drop what the remote sent); its end then stops this stage.
            /// </summary>
            private void CloseOutputEarly()
            {
                if (_done || _partner is not null || _cancelled) return;
                _closedEarly = true;
                Complete(_out);
            }

            public override void OnDownstreamFinish(Exception cause)
            {
                _cancelled = true;
                _cancelCause = cause;
                if (_partner is not null) Cancelled();
            }

            private void Cancelled()
            {
                _done = true;
                _partner!(new Cancelled(_cancelCause));
                CompleteStage();
            }

            public override void PostStop()
            {
                if (!_done && _partner is not null)
                    _partner(new Cancelled(new AbruptStageTerminationException(this)));
                _done = true;
                _upperOf?.UpperEndStopped();
            }
        }
    }
}
