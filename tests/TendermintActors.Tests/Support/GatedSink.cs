using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using ByteString = Akka.IO.ByteString;

namespace TendermintActors.Tests.Support;

/// <summary>
/// A remote's read side whose demand the spec controls exactly: it asks for nothing until <see cref="Gate.Request"/>,
/// then for that many elements, each told to a probe as it arrives. (Akka's own actor sinks read ahead.)
/// </summary>
public sealed class GatedSink : GraphStage<SinkShape<ByteString>>
{
    private readonly Inlet<ByteString> _in = new("GatedSink.in");
    private readonly IActorRef _probe;
    private readonly Gate _gate;

    private GatedSink(IActorRef probe, Gate gate)
    {
        _probe = probe;
        _gate = gate;
        Shape = new SinkShape<ByteString>(_in);
    }

    public override SinkShape<ByteString> Shape { get; }

    public static Sink<ByteString, NotUsed> Create(IActorRef probe, Gate gate) => Sink.FromGraph(new GatedSink(probe, gate));

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    /// <summary>Opens the sink for more elements; usable from the spec's thread once the stream runs.</summary>
    public sealed class Gate
    {
        internal readonly TaskCompletionSource<Action<int>> Started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Request(int count = 1)
        {
            if (!Started.Task.Wait(TimeSpan.FromSeconds(10)))
                throw new TimeoutException("the gated sink did not start");
            Started.Task.Result(count);
        }
    }

    private sealed class Logic : GraphStageLogic
    {
        private readonly GatedSink _stage;
        private long _demand;

        public Logic(GatedSink stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._in,
                onPush: () =>
                {
                    _stage._probe.Tell(Grab(_stage._in));
                    _demand--;
                    PullIfDemand();
                },
                onUpstreamFinish: () =>
                {
                    _stage._probe.Tell(new PacketWire.RemoteCompleted());
                    CompleteStage();
                },
                onUpstreamFailure: e =>
                {
                    _stage._probe.Tell(new PacketWire.RemoteFailed(e));
                    FailStage(e);
                });
        }

        public override void PreStart() =>
            _stage._gate.Started.TrySetResult(GetAsyncCallback<int>(count =>
            {
                _demand += count;
                PullIfDemand();
            }));

        private void PullIfDemand()
        {
            if (_demand > 0 && !HasBeenPulled(_stage._in) && !IsClosed(_stage._in))
                Pull(_stage._in);
        }
    }
}
