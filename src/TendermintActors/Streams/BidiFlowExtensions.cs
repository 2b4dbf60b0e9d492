using Akka.Streams;
using Akka.Streams.Dsl;

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
    public static Flow<TIn2, TOut1, TMat3> JoinUnderMat<TIn1, TOut1, TIn2, TOut2, TMat, TMat2, TMat3>(
        this BidiFlow<TIn1, TOut1, TIn2, TOut2, TMat> protocol,
        IGraph<FlowShape<TOut2, TIn1>, TMat2> application,
        Func<TMat, TMat2, TMat3> combine) =>
        Flow.FromGraph(GraphDsl.Create(protocol, application, combine, (builder, bidi, app) =>
        {
            builder.From(bidi.Outlet2).To(app.Inlet);
            builder.From(app.Outlet).To(bidi.Inlet1);
            return new FlowShape<TIn2, TOut1>(bidi.Inlet2, bidi.Outlet1);
        }));
}
