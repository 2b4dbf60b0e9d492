using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Akka.TestKit.Xunit2;
using TendermintActors.Streams;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// <see cref="BidiFlowExtensions.JoinUnderMat"/>: the application on top of a protocol, wired by the protocol's ports
/// (not their positions after a swap) and with the two materialised values given to the combiner in order.
/// </summary>
public sealed class BidiFlowExtensionsSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A protocol whose inlets share a type and whose outlets share a type, as the SecretConnection's do: tags what goes
    /// down ("wire:") and what comes up ("app:"), and materialises to <paramref name="name"/>.
    /// </summary>
    private static BidiFlow<string, string, string, string, string> Tagging(string name) =>
        BidiFlow.FromGraph(new TaggingStage(name));

    [Fact]
    public async Task The_transport_input_goes_up_through_the_application_and_its_answer_goes_down()
    {
        // The application answers each message it receives; what it receives and answers shows which port is which.
        var application = Flow.Create<string>().Select(s => $"echo({s})")
            .MapMaterializedValue(_ => "application");
        var handler = Tagging("protocol").JoinUnderMat(application, Keep.Both);

        var ((protocol, app), written) = Source.From(["a", "b"])
            .ViaMaterialized(handler, Keep.Right)
            .ToMaterialized(Sink.Seq<string>(), Keep.Both)
            .Run(Sys.Materializer());

        Assert.Equal(("protocol", "application"), (protocol, app));
        Assert.Equal(["wire:echo(app:a)", "wire:echo(app:b)"], await written.WaitAsync(Timeout));
    }

    [Fact]
    public void The_combiner_gets_the_protocols_value_first()
    {
        var application = Flow.Create<string>().MapMaterializedValue(_ => 7);
        var materializer = Sys.Materializer();

        Assert.Equal("protocol", Run(Tagging("protocol").JoinUnderMat(application, Keep.Left)));
        Assert.Equal(7, Run(Tagging("protocol").JoinUnderMat(application, Keep.Right)));
        Assert.Equal("protocol/7", Run(Tagging("protocol").JoinUnderMat(application, (p, a) => $"{p}/{a}")));

        T Run<T>(Flow<string, string, T> flow) => Source.Empty<string>().ViaMaterialized(flow, Keep.Right).To(Sink.Ignore<string>()).Run(materializer);
    }

    [Fact]
    public async Task One_joined_flow_materialises_again_and_again()
    {
        var handler = Tagging("protocol").JoinUnderMat(Flow.Create<string>(), Keep.Left);
        var materializer = Sys.Materializer();

        foreach (var message in new[] { "first", "second" })
        {
            var written = Source.Single(message).Via(handler).RunWith(Sink.Seq<string>(), materializer);
            Assert.Equal([$"wire:app:{message}"], await written.WaitAsync(Timeout));
        }
    }

    private sealed class TaggingStage(string name) : GraphStageWithMaterializedValue<BidiShape<string, string, string, string>, string>
    {
        private readonly Inlet<string> _fromApplication = new("tagging.fromApplication");
        private readonly Outlet<string> _toWire = new("tagging.toWire");
        private readonly Inlet<string> _fromWire = new("tagging.fromWire");
        private readonly Outlet<string> _toApplication = new("tagging.toApplication");

        public override BidiShape<string, string, string, string> Shape => new(_fromApplication, _toWire, _fromWire, _toApplication);

        public override ILogicAndMaterializedValue<string> CreateLogicAndMaterializedValue(Attributes inheritedAttributes) =>
            new LogicAndMaterializedValue<string>(new Logic(this), name);

        private sealed class Logic : GraphStageLogic
        {
            public Logic(TaggingStage stage) : base(stage.Shape)
            {
                Pass(stage._fromApplication, stage._toWire, "wire:");
                Pass(stage._fromWire, stage._toApplication, "app:");
            }

            private void Pass(Inlet<string> from, Outlet<string> to, string tag)
            {
                SetHandler(from, onPush: () => Push(to, tag + Grab(from)), onUpstreamFinish: () => Complete(to));
                SetHandler(to, onPull: () => Pull(from), onDownstreamFinish: cause => Cancel(from, cause));
            }
        }
    }
}
