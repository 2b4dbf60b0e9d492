using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using StreamTcp = Akka.Streams.Dsl.Tcp;

namespace TendermintActors.Transport.Internal;

/// <summary>
/// Between Akka.Streams' listener source and the switch in <see cref="AkkaIoTransport"/>. Akka.IO's accepted
/// connections are children of its listener actor, so unbinding at once would abort every connection accepted
/// (and a graceful shutdown, which unbinds first, would reset its inbound peers). So unbinding here stops taking
/// connections and completes this source at once, and cancels Akka's listener (which unbinds) only once the
/// connections handed on and run have ended both ways, and <see cref="CloseGrace"/> later. The materialised function
/// requests the unbind; its task says whether no connection was running, so the caller may unbind Akka's listener at
/// once (and know when it has).
/// </summary>
internal sealed class DeferredUnbindStage(Func<Flow<ByteString, ByteString, NotUsed>, Flow<ByteString, ByteString, NotUsed>> wrap)
    : GraphStageWithMaterializedValue<FlowShape<StreamTcp.IncomingConnection, TransportConnection>, Func<Task<bool>>>
{
    /// <summary>
    /// Akka.IO's connection actor finishes closing (sends our FIN, closes the socket) after the stream stage above
    /// it is done; stopping the listener, and so that actor, before then would reset the connection.
    /// </summary>
    internal static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(1);

    private readonly Func<Flow<ByteString, ByteString, NotUsed>, Flow<ByteString, ByteString, NotUsed>> _wrap = wrap;
    private readonly Inlet<StreamTcp.IncomingConnection> _in = new("DeferredUnbind.in");
    private readonly Outlet<TransportConnection> _out = new("DeferredUnbind.out");

    public override FlowShape<StreamTcp.IncomingConnection, TransportConnection> Shape => new(_in, _out);

    public override ILogicAndMaterializedValue<Func<Task<bool>>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var unbindRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var idle = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new LogicAndMaterializedValue<Func<Task<bool>>>(new Logic(this, unbindRequested.Task, idle), () =>
        {
            unbindRequested.TrySetResult();
            return idle.Task;
        });
    }

    private sealed class Logic : TimerGraphStageLogic, IInHandler, IOutHandler
    {
        private const string GraceTimer = "unbind";
        private readonly DeferredUnbindStage _stage;
        private readonly Task _unbindRequested;
        private readonly TaskCompletionSource<bool> _idle;
        private int _running;
        private bool _unbinding;
        private Action<int> _runningChanged = _ => { };

        public Logic(DeferredUnbindStage stage, Task unbindRequested, TaskCompletionSource<bool> idle) : base(stage.Shape)
        {
            _stage = stage;
            _unbindRequested = unbindRequested;
            _idle = idle;
            SetHandler(stage._in, this);
            SetHandler(stage._out, this);
        }

        public override void PreStart()
        {
            _runningChanged = GetAsyncCallback<int>(delta =>
            {
                _running += delta;
                UnbindWhenIdle();
            });
            var unbind = GetAsyncCallback(Unbind);
            _unbindRequested.ContinueWith(_ => unbind(), TaskScheduler.Default);
        }

        private void Unbind()
        {
            if (_unbinding) return;
            _unbinding = true;
            SetKeepGoing(true);
            Complete(_stage._out); // the switch takes no more connections; Akka's listener is not pulled again
            // With no connection to wait for, the caller unbinds Akka's listener now; its source then completes here.
            _idle.TrySetResult(_running <= 0);
        }

        public override void PostStop() => _idle.TrySetResult(false); // gone: Akka's listener was cancelled with it

        private void UnbindWhenIdle()
        {
            if (_unbinding && _running <= 0 && _idle.Task is { IsCompleted: true, Result: false }) ScheduleOnce(GraceTimer, CloseGrace);
            else CancelTimer(GraceTimer);
        }

        protected override void OnTimer(object timerKey) => CompleteStage(); // cancels Akka's listener: it unbinds

        public void OnPush()
        {
            var accepted = Grab(_stage._in);
            if (_unbinding)
            {
                // Accepted on a pull made before the unbind: no one takes it, so it is closed rather than left open.
                Source.Empty<ByteString>().Via(accepted.Flow).RunWith(Sink.Cancelled<ByteString>(), Materializer);
                return;
            }
            var changed = _runningChanged;
            // Keep.Right and Keep.Both, not closures, as the compositions' combiners: see BidiFlowExtensions.JoinUnderMat.
            var flow = Flow.Create<ByteString>().WatchTermination(Keep.Right)
                .ViaMaterialized(_stage._wrap(accepted.Flow), Keep.Left)
                .WatchTermination(Keep.Both)
                .MapMaterializedValue(ends =>
                {
                    var (writes, reads) = ends;
                    changed(1);
                    Task.WhenAll(writes, reads).ContinueWith(_ => changed(-1), TaskScheduler.Default);
                    return NotUsed.Instance;
                });
            Push(_stage._out, new TransportConnection(accepted.RemoteAddress, flow));
        }

        public void OnUpstreamFinish() => CompleteStage();

        public void OnUpstreamFailure(Exception e) => FailStage(e);

        public void OnPull() => Pull(_stage._in);

        public void OnDownstreamFinish(Exception cause)
        {
            if (!_unbinding) CancelStage(cause);
        }
    }
}
