using System.Net;
using Akka.Actor;
using Akka.IO;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.Identity;
using TendermintActors.Streams;
using TendermintActors.Transport;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Tests.Support;

/// <summary>
/// A loopback TCP server that upgrades every connection and reports, to an actor, how each upgrade and each
/// connection ended. The application side reads everything and writes nothing until the peer closes.
/// </summary>
public sealed class UpgradeServer
{
    public sealed record Upgraded(UpgradeResult Result);
    public sealed record UpgradeFailed(Exception Error);
    public sealed record ConnectionEnded(Exception? Error, long BytesReceived);

    private UpgradeServer(TransportBinding binding) => Binding = binding;

    public TransportBinding Binding { get; }

    public IPEndPoint Endpoint => (IPEndPoint)Binding.LocalAddress;

    /// <summary>Listens through <paramref name="transport"/>; by default Akka.Streams' TCP (<see cref="AkkaIoTransport"/>).</summary>
    public static async Task<UpgradeServer> Start(ActorSystem system, IMaterializer materializer, NodeKey key,
        NodeInfoModel? nodeInfo, SecretConnectionSettings settings, IActorRef reportTo, IP2PTransport? transport = null)
    {
        var binding = await (transport ?? new AkkaIoTransport()).Bind("127.0.0.1", 0)
            .To(Sink.ForEach<TransportConnection>(connection =>
            {
                if (nodeInfo is null)
                    Handle(connection.Flow, SecretConnection.Create(key, settings), info => new UpgradeResult(info, null), materializer, reportTo);
                else
                    Handle(connection.Flow, SecretConnection.Upgrade(key, nodeInfo, settings), r => r, materializer, reportTo);
            }))
            .Run(materializer);
        return new UpgradeServer(binding);
    }

    private static void Handle<TMat>(Flow<ByteString, ByteString, NotUsed> connection,
        BidiFlow<ByteString, ByteString, ByteString, ByteString, Task<TMat>> upgrade, Func<TMat, UpgradeResult> result,
        IMaterializer materializer, IActorRef reportTo)
    {
        var app = Flow.FromSinkAndSource(
            Sink.Aggregate<ByteString, long>(0L, (n, b) => n + b.Count),
            Source.Maybe<ByteString>(), Keep.Left);
        var (upgraded, received) = connection.JoinMaterialized(upgrade.JoinUnderMat(app, (u, r) => (u, r)), Keep.Right).Run(materializer);
        // One report per connection, in order: Upgraded then ConnectionEnded, or UpgradeFailed alone.
        _ = Report();

        async Task Report()
        {
            try
            {
                reportTo.Tell(new Upgraded(result(await upgraded)));
            }
            catch (Exception e)
            {
                reportTo.Tell(new UpgradeFailed(e));
                return;
            }
            try
            {
                reportTo.Tell(new ConnectionEnded(null, await received));
            }
            catch (Exception e)
            {
                reportTo.Tell(new ConnectionEnded(e, -1));
            }
        }
    }
}
