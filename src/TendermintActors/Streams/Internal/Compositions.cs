using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Dsl.Internal;
using Akka.Streams.Implementation;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// Stream compositions made from Akka's modules directly, for the ones whose Akka DSL hands the composition closures
/// of its own (<c>GraphDsl.Create</c> with several graphs, <c>Flow.FromSinkAndSource</c>). Akka asks a composition's
/// combiner for its method (<c>Keep.IsLeft</c>), and natively compiled, a closure's method is found only through an
/// index of every reflectable method that the runtime builds at that first question (docs/performance.md, "One stream
/// composition that cost 4 MiB"); composed here, the combiner is the caller's own (a <c>Keep</c> method).
/// </summary>
internal static class Compositions
{
    /// <summary>A flow into <paramref name="sink"/> and out of <paramref name="source"/>, as <c>Flow.FromSinkAndSource</c>.</summary>
    public static Flow<TIn, TOut, NotUsed> FromSinkAndSource<TIn, TOut>(Sink<TIn, NotUsed> sink, Source<TOut, NotUsed> source)
    {
        var input = sink.Module.CarbonCopy();
        var output = source.Module.CarbonCopy();
        var shape = new FlowShape<TIn, TOut>(Inlet.Create<TIn>(input.Shape.Inlets[0]), Outlet.Create<TOut>(output.Shape.Outlets[0]));
        return AsFlow<TIn, TOut, NotUsed>(input.Compose<NotUsed, NotUsed, NotUsed>(output, Keep.None), shape);
    }

    /// <summary>
    /// <paramref name="composed"/> (with its ports wired) as a flow of <paramref name="shape"/>, whose ports are the
    /// ones left open.
    /// </summary>
    /// <remarks>
    /// <see cref="GraphImpl{TShape,TMat}"/> and the module operations are what Akka's own DSL builds graphs with; Akka
    /// marks them internal API, so an Akka upgrade is checked against BidiFlowExtensionsSpecs
    /// (tests/TendermintActors.Tests/Streams) and the transports' conformance specs.
    /// </remarks>
    public static Flow<TIn, TOut, TMat> AsFlow<TIn, TOut, TMat>(IModule composed, FlowShape<TIn, TOut> shape) =>
        Flow.FromGraph(new GraphImpl<FlowShape<TIn, TOut>, TMat>(shape, composed.ReplaceShape(shape)));
}
