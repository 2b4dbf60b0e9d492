using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Implementation.Fusing;
using Akka.Streams.Stage;
using Akka.TestKit.Xunit2;
using TendermintActors.Streams;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// <see cref="BidiFlowExtensions.JoinUnderMat"/>: the application on top of a protocol, wired by the protocol's ports
/// (not their positions after a swap), with the two materialised values given to the combiner in order, and run as
/// <c>LowerBlueprint</c> runs it: fused once, materialised per connection with attributes of its own.
/// </summary>
public sealed class BidiFlowExtensionsSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A protocol whose inlets share a type and whose outlets share a type, as the SecretConnection's do: tags what
    /// goes down ("wire:") and what comes up ("app:"), and materialises to <paramref name="name"/>.
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
        // An application without a value of its own (as the handover's lower end): Akka keeps the protocol's value
        // without combining.
        Assert.Equal("protocol", Run(Tagging("protocol").JoinUnderMat(Flow.Create<string>(), Keep.Left)));

        T Run<T>(Flow<string, string, T> flow) =>
            Source.Empty<string>().ViaMaterialized(flow, Keep.Right).To(Sink.Ignore<string>()).Run(materializer);
    }

    [Fact]
    public async Task Fused_once_it_runs_per_connection_with_that_connections_attributes()
    {
        var graph = Source.Maybe<string>()
            .ViaMaterialized(Tagging("protocol").JoinUnderMat(Flow.Create<string>(), Keep.Left), Keep.Both)
            .ToMaterialized(Sink.Seq<string>(), Keep.Both);
        var fused = Fusing.Aggressive(graph);
        var materializer = Sys.Materializer();

        foreach (var connection in new[] { "first", "second" })
        {
            var attributes = Attributes.None.And(new Suffix(connection));
            var ((input, protocol), written) = materializer.Materialize(fused, attributes);
            input.TrySetResult(connection);

            Assert.Equal("protocol", protocol);
            Assert.Equal([$"wire:app:{connection}@{connection}@{connection}"], await written.WaitAsync(Timeout));
        }
    }

    /// <summary>What the tagging stage appends to each element, from the attributes it was materialised with.</summary>
    private sealed record Suffix(string Value) : Attributes.IAttribute;

    private sealed class TaggingStage(string name)
        : GraphStageWithMaterializedValue<BidiShape<string, string, string, string>, string>
    {
        private readonly Inlet<string> _fromApplication = new("tagging.fromApplication");
        private readonly Outlet<string> _toWire = new("tagging.toWire");
        private readonly Inlet<string> _fromWire = new("tagging.fromWire");
        private readonly Outlet<string> _toApplication = new("tagging.toApplication");

        public override BidiShape<string, string, string, string> Shape =>
            new(_fromApplication, _toWire, _fromWire, _toApplication);

        public override ILogicAndMaterializedValue<string> CreateLogicAndMaterializedValue(Attributes inherited) =>
            new LogicAndMaterializedValue<string>(new Logic(this, inherited.GetAttribute<Suffix>()), name);

        private sealed class Logic : GraphStageLogic
        {
            public Logic(TaggingStage stage, Suffix? suffix) : base(stage.Shape)
            {
                var end = suffix is null ? "" : "@" + suffix.Value;
                Pass(stage._fromApplication, stage._toWire, "wire:", end);
                Pass(stage._fromWire, stage._toApplication, "app:", end);
            }

            private void Pass(Inlet<string> from, Outlet<string> to, string tag, string end)
            {
                SetHandler(from, onPush: () => Push(to, tag + Grab(from) + end), onUpstreamFinish: () => Complete(to));
                SetHandler(to, onPull: () => Pull(from), onDownstreamFinish: cause => Cancel(from, cause));
            }
        }
    }
}
