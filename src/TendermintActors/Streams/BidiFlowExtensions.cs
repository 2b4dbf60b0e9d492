using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Streams.Internal;

namespace TendermintActors.Streams;

/// <summary>Composition helpers for protocol layers shaped as BidiFlows (application on top, transport below).</summary>
public static class BidiFlowExtensions
{
    /// <summary>
    /// Puts <paramref name="application"/> on top of <paramref name="protocol"/> and returns the handler the transport
    /// runs: a flow from transport bytes in to transport bytes out (what <c>IncomingConnection.HandleWith</c> takes).
    /// Equivalent to <c>protocol.Reversed().JoinMat(application)</c>, which Akka.NET 1.5 wires wrongly for a
    /// GraphStage whose inlets share a type (its ports are matched by position after the shape is swapped).
    /// </summary>
    /// <remarks>
    /// The two modules are composed with <paramref name="combine"/> itself and wired by their ports, as
    /// <c>Flow.JoinMaterialized</c> does, not through <c>GraphDsl.Create</c> with two graphs, which hands the
    /// composition a closure of its own. Akka tells whether a composition keeps one side by asking the function for
    /// its method (<c>Keep.IsLeft</c>); natively compiled, a closure's method is found only through a reverse index of
    /// every reflectable method, which the runtime builds at that first question: ~4 MB of the program's tables read
    /// and a ~1 MB array kept (docs/performance.md, "One stream composition that cost 4 MiB"). Pass <c>Keep.Left</c>,
    /// <c>Keep.Right</c>, <c>Keep.Both</c> or <c>Keep.None</c> where one fits: their methods are found from the
    /// delegate alone.
    /// </remarks>
    public static Flow<TIn2, TOut1, TMat3> JoinUnderMat<TIn1, TOut1, TIn2, TOut2, TMat, TMat2, TMat3>(
        this BidiFlow<TIn1, TOut1, TIn2, TOut2, TMat> protocol,
        IGraph<FlowShape<TOut2, TIn1>, TMat2> application,
        Func<TMat, TMat2, TMat3> combine)
    {
        var below = protocol.Module.CarbonCopy();
        var above = application.Module.CarbonCopy();
        // A BidiShape's ports in order: Inlet1 (from the application), Inlet2 (from the transport); Outlet1 (to the
        // transport), Outlet2 (to the application). A flow's: its one inlet and its one outlet.
        var shape = new FlowShape<TIn2, TOut1>(
            Inlet.Create<TIn2>(below.Shape.Inlets[1]), Outlet.Create<TOut1>(below.Shape.Outlets[0]));
        var joined = below.Compose(above, combine)
            .Wire(below.Shape.Outlets[1], above.Shape.Inlets[0])
            .Wire(above.Shape.Outlets[0], below.Shape.Inlets[0]);
        return Compositions.AsFlow<TIn2, TOut1, TMat3>(joined, shape);
    }
}
