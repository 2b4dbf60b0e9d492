using System.Net;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.Identity;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Switching;
using TendermintActors.Transport;
using TendermintActors.Transport.Internal;

namespace TendermintActors.Peers.Internal;

/// <summary>
/// A connection upgraded and admitted, ready to become a peer: its lower part (transport and SecretConnection) runs
/// and waits at <see cref="Handover"/> for the peer's MConnection. <see cref="AbortLower"/> ends the lower part at
/// once (a kill switch between the transport and the SecretConnection, or the socket stage's own).
/// </summary>
internal sealed record UpgradedConnection(ConnectionHandover Handover, Action<Exception> AbortLower, DateTime StartedAt)
{
    /// <summary>Ends the lower part at once (the socket closes); an upper part not yet attached fails with the same reason.</summary>
    public void Abort(Exception reason)
    {
        AbortLower(reason);
        Handover.Abandon(reason);
    }
}

/// <summary>
/// One connection until it becomes a peer: runs the transport and the upgrade (SecretConnection + node info),
/// reports the authenticated remote to the switch and waits for its decision. Admitted, the connection is handed
/// over to the peer actor the switch creates (named after the remote's ID) and this actor stops; otherwise the
/// connection is closed and the switch hears <see cref="SwitchActor.PeerEnded"/>. States: <see cref="Upgrading"/> →
/// <see cref="AwaitingAdmission"/> → stopped.
/// </summary>
/// <remarks>
/// The lower part is materialised on the switch's peer materializer, not in this actor's context: it must outlive
/// this actor (the peer takes it over), and it ends through its kill switch, which closes the socket in order.
/// </remarks>
internal sealed class HandshakeActor : UntypedActor
{
    /// <summary>From the switch: admitted; the peer actor it created has taken the connection over.</summary>
    public sealed record HandedOver;
    /// <summary>From the switch: not admitted, for this reason.</summary>
    public sealed record Reject(PeerStopReason Reason);
    private sealed record Upgraded(UpgradeResult Result, EndPoint Remote);
    private sealed record UpgradeFailed(Exception Error);

    private readonly PeerContext _ctx;
    private readonly PeerOrigin _origin;
    private readonly IActorRef _switch;
    // Made only for a connection that ends here: a handshake that becomes a peer logs nothing of its own.
    private ILoggingAdapter? _log;
    private UpgradedConnection? _connection;
    private PeerHandle? _candidate;
    private bool _finished;

    public HandshakeActor(PeerContext ctx, PeerOrigin origin, IActorRef @switch)
    {
        _ctx = ctx;
        _origin = origin;
        _switch = @switch;
    }

    public static Props Props(PeerContext ctx, PeerOrigin origin, IActorRef @switch) =>
        ActorFactory<HandshakeActor>.Props(() => new HandshakeActor(ctx, origin, @switch), ctx, origin, @switch);

    private NetAddress? DialledAddress => (_origin as PeerOrigin.Outbound)?.Address;

    private ILoggingAdapter Log => _log ??= Context.GetLogger();

    protected override void PreStart()
    {
        var settings = _ctx.Settings;
        // While the switch decides, read ahead what the MConnection could take (its receive window), as it would.
        var handover = new ConnectionHandover(settings.Connection.ReceiveWindowBytes);
        var socket = _origin switch
        {
            PeerOrigin.Inbound inbound => inbound.Connection.Socket,
            PeerOrigin.Outbound outbound => _ctx.Transport.DialTarget(outbound.Address.Host, outbound.Address.Port, settings.DialTimeout),
            _ => throw new InvalidOperationException(),
        };
        // Over a socket: the lower part fused once for every connection. Otherwise built for this one.
        var ((remote, abortLower), upgraded) = socket is not null
            ? _ctx.Lower.Run(socket, DialledAddress?.Id, handover, _ctx.Materializer)
            : RunLower(handover);
        _connection = new UpgradedConnection(handover, abortLower, DateTime.UtcNow);

        var self = Self;
        // A failed dial fails the upgrade too; report whichever explains it better (the dial error).
        upgraded.ContinueWith(async t =>
        {
            if (t.IsCompletedSuccessfully)
                self.Tell(new Upgraded(t.Result, await remote.ConfigureAwait(false)));
            else if (remote.IsFaulted)
                self.Tell(new UpgradeFailed(remote.Exception!.GetBaseException()));
            else
                self.Tell(new UpgradeFailed(t.Exception?.GetBaseException() ?? new TaskCanceledException()));
        }, TaskContinuationOptions.ExecuteSynchronously);
        Become(Upgrading);
    }

    /// <summary>The lower part over a transport's own flow, built for this connection.</summary>
    private ((Task<EndPoint>, Action<Exception>), Task<UpgradeResult>) RunLower(ConnectionHandover handover)
    {
        var settings = _ctx.Settings;
        var handler = SecretConnection.Upgrade(_ctx.LocalKey, _ctx.LocalNodeInfo, _ctx.UpgradeSettings with { ExpectedRemoteId = DialledAddress?.Id })
            .JoinUnderMat(handover.Lower, Keep.Left);
        Flow<ByteString, ByteString, Task<EndPoint>> transport = _origin switch
        {
            PeerOrigin.Inbound inbound => inbound.Connection.Flow.MapMaterializedValue(_ => Task.FromResult(inbound.Connection.RemoteAddress)),
            PeerOrigin.Outbound outbound => _ctx.Transport.Dial(outbound.Address.Host, outbound.Address.Port, settings.DialTimeout),
            _ => throw new InvalidOperationException(),
        };
        // Keep.Both, not closures: see BidiFlowExtensions.JoinUnderMat.
        var ((remote, killSwitch), upgraded) = transport
            // The SecretConnection stage opens each read before it pulls the next, so a transport may lend them.
            .AddAttributes(LendReads.Attributes)
            .ViaMaterialized(KillSwitches.Single<ByteString>(), Keep.Both)
            .JoinMaterialized(handler, Keep.Both)
            .Run(_ctx.Materializer);
        return ((remote, killSwitch.Abort), upgraded);
    }

    protected override void OnReceive(object message) => Unhandled(message);

    private void Upgrading(object message)
    {
        switch (message)
        {
            case Upgraded up:
                var info = up.Result.RemoteNodeInfo!;
                // The switch gives the peer actor its own handle (PeerHandle.WithActor); this one names us meanwhile.
                _candidate = new PeerHandle(up.Result.Connection.RemoteId, info, _origin is PeerOrigin.Outbound,
                    (_origin as PeerOrigin.Outbound)?.Persistent ?? false, up.Remote, DialledAddress, Self);
                _switch.Tell(new SwitchActor.PeerUpgraded(Self, _candidate, _connection!));
                Become(AwaitingAdmission);
                break;
            case UpgradeFailed failed:
                Finish(PeerStopReason.FromException(failed.Error));
                break;
            case Peer.Stop stop:
                Finish(stop.Reason);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>
    /// The switch decides. Meanwhile the lower part holds what the remote sends (one read, then TCP back-pressure)
    /// and keeps its end or failure for the peer, who then delivers what came before it and ends, as Go's peer does.
    /// </summary>
    private void AwaitingAdmission(object message)
    {
        switch (message)
        {
            case HandedOver:
                // The peer actor owns the connection from here on: ending quietly, without closing it.
                _finished = true;
                Context.Stop(Self);
                break;
            case Reject reject:
                Finish(reject.Reason);
                break;
            case Peer.Stop stop:
                Finish(stop.Reason);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Finish(PeerStopReason reason, bool stopSelf = true)
    {
        if (_finished) return;
        _finished = true;
        _connection?.Abort(new PeerStoppedException("connection closed before it became a peer"));
        _ctx.Metrics?.ConnectionEnded(reason.Code, reason.IsError, false);
        var remoteId = _candidate?.Id;
        if (reason.IsError)
            Log.Warning("Stopping peer {Peer} for error: {Reason}", (object?)remoteId ?? DialledAddress ?? (object)"(unknown)", reason);
        else
            Log.Debug("Connection {Peer} ended before it became a peer: {Reason}", (object?)remoteId ?? DialledAddress ?? (object)"(inbound)", reason);
        _switch.Tell(new SwitchActor.PeerEnded(Self, remoteId, _candidate, DialledAddress, (_origin as PeerOrigin.Outbound)?.Persistent ?? false,
            false, reason));
        if (stopSelf) Context.Stop(Self);
    }

    protected override void PostStop()
    {
        if (!_finished)
            Finish(PeerStopReason.Stopped("handshake actor stopped"), stopSelf: false);
    }
}
