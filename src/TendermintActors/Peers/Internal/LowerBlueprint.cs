using System.Net;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.Identity;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Transport.Internal;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Peers.Internal;

/// <summary>
/// The lower part of a connection over a socket (the socket stage, the SecretConnection upgrade and the handover's
/// lower ends), built and fused once per switch and materialised for every connection, as
/// <see cref="MConnectionBlueprint"/> does for the upper part. What differs between connections, the socket or the
/// address to dial (<see cref="SocketTarget"/>), the ID a dialled remote must prove (<see cref="ExpectedRemoteId"/>)
/// and the handover, comes as attributes of each materialisation, and so does the socket stage's own kill switch
/// (<see cref="SocketConnectionStage.KillSwitch"/>), which takes the place of a kill switch stage.
/// </summary>
/// <remarks>
/// Built per connection, the graph was fused for every connection, and each kept its own stages, modules, port sets
/// and assembly for as long as it lived (~3.3 KiB of an idle peer's live objects: docs/performance.md, "Memory per
/// connection"). Fused once, the stages and the assembly are shared; only their logics are made per connection.
/// </remarks>
internal sealed class LowerBlueprint
{
    /// <summary>The fused graph: a <see cref="Fusing.FusedGraph{TShape,TMat}"/>, which the materializer does not fuse again.</summary>
    internal IGraph<ClosedShape, (Task<EndPoint> Remote, Task<UpgradeResult> Upgraded)> Graph { get; }

    /// <param name="localKey">Our key.</param>
    /// <param name="localNodeInfo">Our node info.</param>
    /// <param name="settings">The upgrade's settings, but for <see cref="SecretConnectionSettings.ExpectedRemoteId"/>, which each run gives.</param>
    /// <param name="unfinished">Counts the sockets whose FIN is not out yet, for every connection (one attribute of the graph).</param>
    public LowerBlueprint(NodeKey localKey, NodeInfoModel localNodeInfo, SecretConnectionSettings settings, UnfinishedSockets unfinished)
    {
        var handler = SecretConnection.Upgrade(localKey, localNodeInfo, settings with { ExpectedRemoteId = null })
            .JoinUnderMat(ConnectionHandover.LowerOfAny, Keep.Left);
        var graph = Flow.FromGraph(new SocketConnectionStage())
            // The SecretConnection stage opens each read before it pulls the next, so the socket may lend them.
            .AddAttributes(LendReads.Attributes.And(unfinished))
            // Keep.Both, not a closure: see BidiFlowExtensions.JoinUnderMat.
            .JoinMaterialized(handler, Keep.Both);
        Graph = Fusing.Aggressive(graph);
    }

    // The stream actor's name ends with the run's name: "peer-N-0-tcp" (see MConnectionBlueprint).
    private static readonly Attributes Named = Attributes.CreateName("tcp");

    /// <summary>
    /// Runs one connection to <paramref name="target"/> up to <paramref name="handover"/>: the remote's address once
    /// connected, what ends the connection at once (the socket reset), and the upgrade's outcome.
    /// </summary>
    public ((Task<EndPoint> Remote, Action<Exception> Abort), Task<UpgradeResult> Upgraded) Run(
        SocketTarget target, NodeId? expectedRemoteId, ConnectionHandover handover, IMaterializer materializer)
    {
        var killSwitch = new SocketConnectionStage.KillSwitch();
        var attributes = Named.And(target).And(handover).And(killSwitch);
        if (expectedRemoteId is { } id)
            attributes = attributes.And(new ExpectedRemoteId(id));
        var (remote, upgraded) = materializer.Materialize(Graph, attributes);
        return ((remote, killSwitch.Abort), upgraded);
    }
}
