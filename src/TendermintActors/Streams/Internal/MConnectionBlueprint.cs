using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// The upper part of a peer's connection (<see cref="ConnectionHandover.UpperOfAny"/> joined with the MConnection
/// stages), built and fused once for a set of settings and channels and materialised for every peer. What differs
/// between peers, the handover and the owner, comes as attributes of each materialisation
/// (<see cref="ConnectionHandover"/>, <see cref="ConnectionOwner"/>).
/// </summary>
/// <remarks>
/// Materialising the graph as it is built fuses it first, every time: Akka.Streams copies each module, wires every
/// port and builds the assembly, about half of what a connection allocated (docs/performance.md, "Where a
/// connection's garbage comes from"). A graph fused in advance is materialised as it is: the materializer fuses only
/// what is not already a fused graph, and its stages are blueprints whose logics are made per materialisation.
/// </remarks>
internal sealed class MConnectionBlueprint
{
    /// <summary>The fused graph: a <see cref="Fusing.FusedGraph{TShape,TMat}"/>, which the materializer does not fuse again.</summary>
    internal IGraph<ClosedShape, MConnectionHandle> Graph { get; }

    /// <param name="settings">Connection options (validated here).</param>
    /// <param name="channels">Our channels (validated here).</param>
    public MConnectionBlueprint(MConnectionSettings settings, IReadOnlyList<ChannelDescriptor> channels)
    {
        settings.Validate();
        ChannelDescriptor.ValidateSet(channels);
        var graph = ConnectionHandover.UpperOfAny
            .JoinMaterialized(MConnectionStage.Create(settings, channels.ToArray(), owner: null), Keep.Right);
        Graph = Fusing.Aggressive(graph);
    }

    /// <summary>Runs one peer's MConnection over <paramref name="handover"/>, telling <paramref name="owner"/> its events.</summary>
    public MConnectionHandle Run(ConnectionHandover handover, IActorRef owner, IMaterializer materializer) =>
        materializer.Materialize(Graph, Named.And(handover).And(new ConnectionOwner(owner)));

    /// <summary>
    /// The stream actor's name ends with the name the run is given, else with "unknown-operation"; it is kept twice
    /// per peer (the actor's path, its log source).
    /// </summary>
    private static readonly Attributes Named = Attributes.CreateName("mconn");
}
