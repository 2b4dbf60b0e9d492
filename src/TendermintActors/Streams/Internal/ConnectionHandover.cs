using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// Joins two separately materialised streams of one connection: the lower part (transport and SecretConnection),
/// which runs from the first byte, and the upper part (the MConnection), which a peer actor has run in a stream actor
/// of its own once the switch has admitted the remote. <see cref="Lower"/> goes on the SecretConnection's plaintext
/// side; <see cref="Upper"/> is what the MConnection joins, at most once, possibly long after. Until then, what the
/// lower part has to say (its end, its failure) is kept and given to the upper part when it attaches. The two parts
/// run in different interpreter actors and either end may start first: each end publishes its callback to the pipes
/// and learns of the other end (or that it will never come) from whichever publishes second.
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
    public Flow<ByteString, ByteString, NotUsed> Lower => Flow.FromGraph(new End(this, upper: false));

    /// <summary>For the upper stream: join the MConnection to it (its output in, the remote's plaintext out).</summary>
    public Flow<ByteString, ByteString, NotUsed> Upper => Flow.FromGraph(new End(this, upper: true));

    /// <summary>
    /// <see cref="Upper"/> for any handover: each materialisation attaches to the one given as an attribute (this class
    /// is one), so that a graph built on it can be fused once and run for every peer (<see cref="MConnectionBlueprint"/>).
    /// </summary>
    public static Flow<ByteString, ByteString, NotUsed> UpperOfAny => Flow.FromGraph(new End(null, upper: true));

    /// <summary><see cref="Lower"/> for any handover: each materialisation attaches to the one given as an attribute.</summary>
    public static Flow<ByteString, ByteString, NotUsed> LowerOfAny => Flow.FromGraph(new End(null, upper: false));

    /// <summary>The stage's own handover, else the one its materialisation carries.</summary>
    private static ConnectionHandover Of(ConnectionHandover? own, Attributes attributes) =>
        own ?? attributes.GetAttribute<ConnectionHandover>()
        ?? throw new InvalidOperationException("a handover end built without its handover was materialised without one as an attribute");

    private readonly TaskCompletionSource _upperEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes once the upper part's end has stopped, both its directions done, so that everything the MConnection
    /// wrote has been handed to the lower part and its end has been told. Until then, stopping the connection's stream
    /// would end the lower part abruptly (the socket reset) rather than after its orderly close.
    /// </summary>
    public Task UpperEnded => _upperEnded.Task;

    private void UpperEndStopped() => _upperEnded.TrySetResult();

    /// <summary>No upper part will come: ends the lower part's waiting ends with <paramref name="reason"/>.</summary>
    public void Abandon(Exception reason)
    {
        _up.Abandon(sinkEnd: false, reason);
        _down.Abandon(sinkEnd: true, reason);
    }

    // What the ends of a pipe signal each other, each through the other end's one async callback (an async callback
    // costs an idle connection ~0.3 KiB; one per end, for both its pipes, instead of one per pipe end or per kind of
    // signal). To an end's source half: an element (the ByteString itself) or Ended. To its
    // sink half: Demand or Cancelled. To either: Attached, which names its pipe.
    private sealed record Ended(Exception? Failure);

    /// <summary>
    /// The other end of <see cref="Pipe"/> has published its callback (<see cref="Partner"/>), or the pipe was
    /// abandoned before it did (<see cref="Failure"/>).
    /// </summary>
    private sealed record Attached(Pipe Pipe, Action<object>? Partner, Exception? Failure);

    private sealed record Cancelled(Exception? Cause);

    private sealed class Demand
    {
        public static readonly Demand Instance = new();
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
                    signals(new Attached(this, partner, null));
                    partner(new Attached(this, signals, null));
                    break;
                case Exception reason:
                    signals(new Attached(this, null, reason));
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
                partner(new Attached(this, null, reason));
        }

        /// <summary>
        /// The end on the <paramref name="sinkEnd"/> side has stopped before it heard of the other end: returns the
        /// other end's callback if it has published (the caller tells it the end), and otherwise leaves
        /// <paramref name="reason"/> for it, so that an end that publishes later fails at once rather than wait on
        /// the callback of a stopped stage (whose signals no one receives).
        /// </summary>
        public Action<object>? Withdraw(bool sinkEnd, Exception reason)
        {
            ref var mine = ref sinkEnd ? ref _sink : ref _source;
            ref var theirs = ref sinkEnd ? ref _source : ref _sink;
            // As in Publish: the other end, publishing at once, finds the reason if we do not find its callback here.
            Interlocked.Exchange(ref mine, reason);
            return Volatile.Read(ref theirs) as Action<object>;
        }
    }


    /// <summary>
    /// One end of the handover: the lower part's (opened plaintext in, plaintext to seal out) or, when
    /// <paramref name="upper"/>, the upper part's (the MConnection's output in, the remote's plaintext out). Its sink
    /// half feeds one pipe and its source half emits what the other carries; each half ends on its own (as two stages
    /// would), and the stage stops once both have. One stage and one async callback per end, not two.
    /// </summary>
    private sealed class End(ConnectionHandover? handover, bool upper) : GraphStage<FlowShape<ByteString, ByteString>>
    {
        private readonly Inlet<ByteString> _in = new("handover.in");
        private readonly Outlet<ByteString> _out = new("handover.out");

        public override FlowShape<ByteString, ByteString> Shape => new(_in, _out);

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes)
        {
            var of = Of(handover, inheritedAttributes);
            return upper ? new Logic(this, of, of._down, of._up, lower: false) : new Logic(this, of, of._up, of._down, lower: true);
        }

        private sealed class Logic : InAndOutGraphStageLogic
        {
            private readonly ConnectionHandover _of;
            private readonly bool _lower;
            private readonly Inlet<ByteString> _in;
            private readonly Outlet<ByteString> _out;

            // The sink half, which feeds _inPipe. Before the upper part attaches, the lower end reads ahead up to the
            // prefetch bound (copies, since upstream may lend), so that a remote that sends a little and closes is
            // seen to close.
            private readonly Pipe _inPipe;
            private Queue<ByteString>? _held;
            private long _heldBytes;
            private Action<object>? _sinkPartner; // the other end's callback
            private bool _wanted; // the other end's source half asked for an element that it has not had yet
            private bool _upstreamEnded;
            private Exception? _upstreamFailure;
            private bool _sinkDone;

            // The source half, which emits what _outPipe carries.
            private readonly Pipe _outPipe;
            private Action<object>? _sourcePartner; // the other end's callback
            private bool _demand; // pulled before the partner's callback came
            private bool _cancelled;
            private bool _closedEarly;
            private Exception? _cancelCause;
            private bool _sourceDone;

            protected override object LogSource => "handover";

            // Not base(Shape), which makes a log source with the shape's text for every logic (see TimerLogic).
            public Logic(End stage, ConnectionHandover of, Pipe inPipe, Pipe outPipe, bool lower) : base(inCount: 1, outCount: 1)
            {
                _of = of;
                _lower = lower;
                _inPipe = inPipe;
                _outPipe = outPipe;
                _in = stage._in;
                _out = stage._out;
                SetHandler(_in, this);
                SetHandler(_out, this);
            }

            private long PrefetchBytes => _lower ? _of._prefetchBytes : 0;

            public override void PreStart()
            {
                // Kept alive after a direction has ended until the other end has heard of it, and until both have.
                SetKeepGoing(true);
                var signals = GetAsyncCallback<object>(OnSignal);
                if (_inPipe.Publish(sinkEnd: true, signals) is { } abandonedIn)
                    OnCancel(abandonedIn);
                else if (PrefetchBytes > 0)
                    Pull(_in);
                if (_outPipe.Publish(sinkEnd: false, signals) is { } abandonedOut)
                    OnEnd(abandonedOut);
            }

            private void OnSignal(object signal)
            {
                switch (signal)
                {
                    case ByteString element:
                        OnElement(element);
                        break;
                    case Demand:
                        OnDemand();
                        break;
                    case Ended ended:
                        OnEnd(ended.Failure);
                        break;
                    case Cancelled cancelled:
                        OnCancel(cancelled.Cause);
                        break;
                    case Attached attached when ReferenceEquals(attached.Pipe, _inPipe):
                        OnSinkAttached(attached);
                        break;
                    case Attached attached:
                        OnSourceAttached(attached);
                        break;
                }
            }

            private void TryStop()
            {
                if (_sinkDone && _sourceDone) CompleteStage();
            }

            // The sink half.

            private void OnSinkAttached(Attached attached)
            {
                if (_sinkDone || _sinkPartner is not null) return;
                if (attached.Partner is null)
                {
                    OnCancel(attached.Failure);
                    return;
                }
                _sinkPartner = attached.Partner;
                Serve();
            }

            private void OnDemand()
            {
                if (_sinkDone) return;
                _wanted = true;
                Serve();
            }

            /// <summary>Answers the other end's demand from what is held, or pulls upstream for it; ends after the last.</summary>
            private void Serve()
            {
                if (_sinkPartner is null) return;
                if (_wanted && _held is not null && _held.TryDequeue(out var element))
                {
                    _heldBytes -= element.Count;
                    _wanted = false;
                    _sinkPartner(element);
                }
                if (_held is { Count: > 0 }) return;
                if (_upstreamEnded)
                    SinkEnded();
                else if (_wanted && !HasBeenPulled(_in))
                    Pull(_in);
            }

            private void OnCancel(Exception? cause)
            {
                if (_sinkDone) return;
                _sinkDone = true;
                if (!IsClosed(_in))
                    Cancel(_in, cause ?? SubscriptionWithCancelException.NoMoreElementsNeeded.Instance);
                TryStop();
            }

            public override void OnPush()
            {
                var element = Grab(_in);
                if (_sinkPartner is not null && _wanted && _held is not { Count: > 0 })
                {
                    // Pulled for this demand: possibly lent, valid until the other end is pulled again (and asks).
                    _wanted = false;
                    _sinkPartner(element);
                    return;
                }
                // Held beyond a demand: upstream may lend it (valid only until pulled again), so keep a copy.
                (_held ??= new Queue<ByteString>()).Enqueue(ByteString.FromBytes(element.ToArray()));
                _heldBytes += element.Count;
                if (_sinkPartner is null && _heldBytes < PrefetchBytes) Pull(_in);
            }

            public override void OnUpstreamFinish() => OnUpstreamEnd(null);

            public override void OnUpstreamFailure(Exception e) => OnUpstreamEnd(e);

            private void OnUpstreamEnd(Exception? failure)
            {
                _upstreamEnded = true;
                _upstreamFailure = failure;
                if (_sinkPartner is not null)
                    Serve();
                else if (failure is null && _lower)
                    // The remote closed before the MConnection attached. Once attached, it would end at once and
                    // close our direction too (docs/protocol.md §5): close it now, so the remote's graceful close
                    // completes while the switch decides; what the remote sent still goes to the MConnection.
                    CloseOutputEarly();
            }

            private void SinkEnded()
            {
                if (_sinkDone) return;
                _sinkDone = true;
                _sinkPartner!(new Ended(_upstreamFailure));
                TryStop();
            }

            // The source half.

            private void OnSourceAttached(Attached attached)
            {
                if (_sourceDone || _sourcePartner is not null) return;
                if (attached.Partner is null)
                {
                    OnEnd(attached.Failure);
                    return;
                }
                _sourcePartner = attached.Partner;
                if (_cancelled)
                    SourceCancelled();
                else if (_demand && !_closedEarly)
                {
                    _demand = false;
                    _sourcePartner(Demand.Instance);
                }
            }

            // Sent only for a demand, so the outlet is free.
            private void OnElement(ByteString element)
            {
                if (!_sourceDone) Push(_out, element);
            }

            private void OnEnd(Exception? failure)
            {
                if (_sourceDone) return;
                _sourceDone = true;
                if (!IsClosed(_out))
                {
                    if (failure is null)
                        Complete(_out);
                    else
                        Fail(_out, failure);
                }
                TryStop();
            }

            public override void OnPull()
            {
                if (_closedEarly) return;
                if (_sourcePartner is null)
                    _demand = true;
                else
                    _sourcePartner(Demand.Instance);
            }

            /// <summary>
            /// Completes the outlet before the upper part attached. Once it does, it is never asked for output (so the
            /// MConnection, which has the remote's end to read, finishes on its own rather than at our cancel, which
            /// would drop what the remote sent); its end then ends this half.
            /// </summary>
            private void CloseOutputEarly()
            {
                if (_sourceDone || _sourcePartner is not null || _cancelled) return;
                _closedEarly = true;
                Complete(_out);
            }

            public override void OnDownstreamFinish(Exception cause)
            {
                _cancelled = true;
                _cancelCause = cause;
                if (_sourcePartner is not null) SourceCancelled();
            }

            private void SourceCancelled()
            {
                _sourceDone = true;
                _sourcePartner!(new Cancelled(_cancelCause));
                TryStop();
            }

            public override void PostStop()
            {
                // A partner not heard of yet may have published already (its Attached is lost with this stage) or may
                // publish later: Withdraw reaches it either way.
                if (!_sinkDone)
                {
                    var stopped = new AbruptStageTerminationException(this);
                    (_sinkPartner ?? _inPipe.Withdraw(sinkEnd: true, stopped))?.Invoke(new Ended(stopped));
                }
                if (!_sourceDone)
                {
                    var stopped = new AbruptStageTerminationException(this);
                    (_sourcePartner ?? _outPipe.Withdraw(sinkEnd: false, stopped))?.Invoke(new Cancelled(stopped));
                }
                _sinkDone = _sourceDone = true;
                if (!_lower)
                    _of.UpperEndStopped();
            }
        }
    }
}
