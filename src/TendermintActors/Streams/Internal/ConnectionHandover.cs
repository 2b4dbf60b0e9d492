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
/// until downstream is done with it. Ends, failures and cancellations cross in both directions; an end whose
/// stream stops abruptly (its actor stopped) fails the other side with <see cref="ConnectionHandoverException"/>,
/// so that stopping either stream ends the other.
/// </remarks>
internal sealed class ConnectionHandover
{
    private readonly Pipe _up = new(); // lower (opened plaintext) → upper (MConnection input)
    private readonly Pipe _down = new(); // upper (MConnection output) → lower (plaintext to seal)

    /// <summary>For the lower stream, in place of the MConnection: opened plaintext in, plaintext to seal out.</summary>
    public Flow<ByteString, ByteString, NotUsed> Lower =>
        Flow.FromSinkAndSource(Sink.FromGraph(new SinkEnd(_up)), Source.FromGraph(new SourceEnd(_down)));

    /// <summary>For the upper stream: join the MConnection to it (its output in, the remote's plaintext out).</summary>
    public Flow<ByteString, ByteString, NotUsed> Upper =>
        Flow.FromSinkAndSource(Sink.FromGraph(new SinkEnd(_down)), Source.FromGraph(new SourceEnd(_up)));

    /// <summary>No upper part will come: ends the lower part's waiting ends with <paramref name="reason"/>.</summary>
    public void Abandon(Exception reason)
    {
        _up.Source.TrySetException(reason);
        _down.Sink.TrySetException(reason);
    }

    /// <summary>What a source end offers its sink end (async callbacks into the source's stream).</summary>
    private sealed record SourceCallbacks(Action<ByteString> Element, Action<Exception?> End);

    /// <summary>What a sink end offers its source end (async callbacks into the sink's stream).</summary>
    private sealed record SinkCallbacks(Action<NotUsed> Demand, Action<Exception?> Cancel);

    /// <summary>One direction: each end publishes its callbacks once and waits for the other's.</summary>
    private sealed class Pipe
    {
        public readonly TaskCompletionSource<SinkCallbacks> Sink = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource<SourceCallbacks> Source = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static readonly ConnectionHandoverException OtherPartStopped = new("the other part of the connection stopped");

    private sealed class SinkEnd(Pipe pipe) : GraphStage<SinkShape<ByteString>>
    {
        private readonly Inlet<ByteString> _in = new("handover.in");

        public override SinkShape<ByteString> Shape => new(_in);

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this, pipe);

        private sealed class Logic : InGraphStageLogic
        {
            private readonly Pipe _pipe;
            private readonly Inlet<ByteString> _in;
            private SourceCallbacks? _partner;
            private ByteString? _held; // pulled for a demand, arrived before the partner's callbacks did
            private bool _upstreamEnded;
            private Exception? _upstreamFailure;
            private bool _done;

            public Logic(SinkEnd stage, Pipe pipe) : base(stage.Shape)
            {
                _pipe = pipe;
                _in = stage._in;
                SetHandler(_in, this);
            }

            public override void PreStart()
            {
                // Kept alive after its upstream ended until the other end has heard of it.
                SetKeepGoing(true);
                var me = new SinkCallbacks(GetAsyncCallback<NotUsed>(_ => OnDemand()), GetAsyncCallback<Exception?>(OnCancel));
                if (!_pipe.Sink.TrySetResult(me))
                {
                    OnCancel(_pipe.Sink.Task.Exception!.GetBaseException());
                    return;
                }
                var attached = GetAsyncCallback<Task<SourceCallbacks>>(OnAttached);
                _pipe.Source.Task.ContinueWith(attached, TaskContinuationOptions.ExecuteSynchronously);
            }

            private void OnAttached(Task<SourceCallbacks> partner)
            {
                if (_done) return;
                if (!partner.IsCompletedSuccessfully)
                {
                    OnCancel(partner.Exception!.GetBaseException());
                    return;
                }
                _partner = partner.Result;
                if (_held is { } held)
                {
                    _held = null;
                    _partner.Element(held);
                }
                if (_upstreamEnded) End();
            }

            private void OnDemand()
            {
                if (_done || IsClosed(_in) || HasBeenPulled(_in)) return;
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
                if (_partner is null)
                    _held = element;
                else
                    _partner.Element(element);
            }

            public override void OnUpstreamFinish() => OnUpstreamEnd(null);

            public override void OnUpstreamFailure(Exception e) => OnUpstreamEnd(e);

            private void OnUpstreamEnd(Exception? failure)
            {
                _upstreamEnded = true;
                _upstreamFailure = failure;
                if (_partner is not null) End();
            }

            private void End()
            {
                _done = true;
                _partner!.End(_upstreamFailure);
                CompleteStage();
            }

            public override void PostStop()
            {
                if (!_done && _partner is not null)
                    _partner.End(OtherPartStopped);
                _done = true;
            }
        }
    }

    private sealed class SourceEnd(Pipe pipe) : GraphStage<SourceShape<ByteString>>
    {
        private readonly Outlet<ByteString> _out = new("handover.out");

        public override SourceShape<ByteString> Shape => new(_out);

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this, pipe);

        private sealed class Logic : OutGraphStageLogic
        {
            private readonly Pipe _pipe;
            private readonly Outlet<ByteString> _out;
            private SinkCallbacks? _partner;
            private bool _demand; // pulled before the partner's callbacks came
            private bool _cancelled;
            private Exception? _cancelCause;
            private bool _done;

            public Logic(SourceEnd stage, Pipe pipe) : base(stage.Shape)
            {
                _pipe = pipe;
                _out = stage._out;
                SetHandler(_out, this);
            }

            public override void PreStart()
            {
                // Kept alive after its downstream cancelled until the other end has heard of it.
                SetKeepGoing(true);
                var me = new SourceCallbacks(GetAsyncCallback<ByteString>(OnElement), GetAsyncCallback<Exception?>(OnEnd));
                if (!_pipe.Source.TrySetResult(me))
                {
                    OnEnd(_pipe.Source.Task.Exception!.GetBaseException());
                    return;
                }
                var attached = GetAsyncCallback<Task<SinkCallbacks>>(OnAttached);
                _pipe.Sink.Task.ContinueWith(attached, TaskContinuationOptions.ExecuteSynchronously);
            }

            private void OnAttached(Task<SinkCallbacks> partner)
            {
                if (_done) return;
                if (!partner.IsCompletedSuccessfully)
                {
                    OnEnd(partner.Exception!.GetBaseException());
                    return;
                }
                _partner = partner.Result;
                if (_cancelled)
                    Cancelled();
                else if (_demand)
                {
                    _demand = false;
                    _partner.Demand(NotUsed.Instance);
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
                if (_partner is null)
                    _demand = true;
                else
                    _partner.Demand(NotUsed.Instance);
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
                _partner!.Cancel(_cancelCause);
                CompleteStage();
            }

            public override void PostStop()
            {
                if (!_done && _partner is not null)
                    _partner.Cancel(OtherPartStopped);
                _done = true;
            }
        }
    }
}

/// <summary>The other part of a connection's stream stopped without ending it (its actor was stopped).</summary>
internal sealed class ConnectionHandoverException(string message) : Exception(message);
