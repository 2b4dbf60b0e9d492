using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;

namespace TendermintActors.Transport.Internal;

/// <summary>
/// Sits before Akka.Streams' TCP stage on the write side of <see cref="AkkaIoTransport"/> and passes the end of the
/// writes on only once the TCP stage has pulled again after the last write, that is once Akka.IO acknowledged it.
/// Akka.IO forgets a half-close that waits for a write when the remote's FIN arrives meanwhile (the connection then
/// never sends our FIN); docs/akka-io-close-repro.md shows it. SecretConnection's stage does the same for its own
/// reasons; this makes the transport right on its own.
/// </summary>
internal sealed class WriteCompletionStage : GraphStage<FlowShape<ByteString, ByteString>>
{
    private readonly Inlet<ByteString> _in = new("WriteCompletion.in");
    private readonly Outlet<ByteString> _out = new("WriteCompletion.out");

    public override FlowShape<ByteString, ByteString> Shape => new(_in, _out);

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : InAndOutGraphStageLogic
    {
        private readonly WriteCompletionStage _stage;
        private bool _lastWriteTaken = true;
        private bool _finished;

        public Logic(WriteCompletionStage stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandlers(stage._in, stage._out, this);
        }

        public override void OnPush()
        {
            _lastWriteTaken = false;
            Push(_stage._out, Grab(_stage._in));
        }

        public override void OnUpstreamFinish()
        {
            if (_lastWriteTaken) CompleteStage();
            else _finished = true;
        }

        public override void OnPull()
        {
            _lastWriteTaken = true;
            if (_finished) CompleteStage();
            else Pull(_stage._in);
        }
    }
}
