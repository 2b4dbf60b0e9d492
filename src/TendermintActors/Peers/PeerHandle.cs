using System.Net;
using Akka.Actor;
using TendermintActors.Protocol.Identity;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Peers;

/// <summary>
/// The immutable handle reactors hold for a connected peer: who it is and how to send to it. Sending is a message
/// to the peer's actor, which owns the connection and its per-channel queues.
/// </summary>
public sealed class PeerHandle : IEquatable<PeerHandle>
{
    internal PeerHandle(NodeId id, NodeInfoModel nodeInfo, bool isOutbound, bool isPersistent, EndPoint remoteAddress,
        NetAddress? dialledAddress, IActorRef actor)
    {
        Id = id;
        NodeInfo = nodeInfo;
        IsOutbound = isOutbound;
        IsPersistent = isPersistent;
        RemoteAddress = remoteAddress;
        DialledAddress = dialledAddress;
        Actor = actor;
    }

    /// <summary>The same peer, sent to through <paramref name="actor"/> (the peer actor that took the connection over).</summary>
    internal PeerHandle WithActor(IActorRef actor) =>
        new(Id, NodeInfo, IsOutbound, IsPersistent, RemoteAddress, DialledAddress, actor);

    public NodeId Id { get; }

    /// <summary>The node info the peer sent, accepted by the upgrade's checks.</summary>
    public NodeInfoModel NodeInfo { get; }

    /// <summary>True when we dialled it.</summary>
    public bool IsOutbound { get; }

    /// <summary>True for a persistent peer (redialled when it drops).</summary>
    public bool IsPersistent { get; }

    /// <summary>The socket's remote address.</summary>
    public EndPoint RemoteAddress { get; }

    /// <summary>The address we dialled (outbound peers only).</summary>
    public NetAddress? DialledAddress { get; }

    /// <summary>The peer's actor: send it <see cref="Peer"/> commands.</summary>
    public IActorRef Actor { get; }

    public IPAddress? RemoteIp => RemoteAddress switch
    {
        IPEndPoint ip => NetAddress.Normalise(ip.Address),
        _ => null,
    };

    /// <summary>Whether the peer advertised <paramref name="channel"/>; messages for other channels are refused.</summary>
    public bool HasChannel(byte channel) => NodeInfo.HasChannel(channel);

    /// <summary>Queues <paramref name="message"/>, waiting up to the send timeout (10 s) for room; the answer, if
    /// <paramref name="replyTo"/> is given, is a <see cref="Peer.SendResult"/>.</summary>
    public void Send(byte channel, ReadOnlyMemory<byte> message, IActorRef? replyTo = null, object? correlationId = null) =>
        Actor.Tell(new Peer.Send(channel, message, replyTo, correlationId), replyTo ?? ActorRefs.NoSender);

    /// <summary>Queues <paramref name="message"/> only if there is room now; see <see cref="Send"/> for the answer.</summary>
    public void TrySend(byte channel, ReadOnlyMemory<byte> message, IActorRef? replyTo = null, object? correlationId = null) =>
        Actor.Tell(new Peer.TrySend(channel, message, replyTo, correlationId), replyTo ?? ActorRefs.NoSender);

    public bool Equals(PeerHandle? other) => other is not null && Id == other.Id && Actor.Equals(other.Actor);

    public override bool Equals(object? obj) => Equals(obj as PeerHandle);

    public override int GetHashCode() => HashCode.Combine(Id, Actor);

    public override string ToString() => $"Peer({Id}, {(IsOutbound ? "out" : "in")}, {RemoteAddress})";
}
