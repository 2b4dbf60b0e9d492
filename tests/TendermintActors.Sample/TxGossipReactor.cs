using System.Security.Cryptography;
using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;

namespace TendermintActors.Sample;

/// <summary>Transaction gossip, mempool-like: every new transaction is relayed once to every peer but its source.</summary>
public static class TxGossip
{
    public const byte Channel = 0x30;

    /// <summary>Transactions here are small, so a message above 1 KiB is a peer breaking the protocol.</summary>
    public static ChannelDescriptor Descriptor { get; } = new(Channel, 5) { SendQueueCapacity = 100, RecvMessageCapacity = 1024 };

    /// <summary>A transaction submitted on this node (as an RPC's broadcast_tx would).</summary>
    public sealed record SubmitTx(byte[] Tx);

    public static Props Props() => Akka.Actor.Props.Create(() => new TxGossipReactor());

    public static ReactorRegistration Registration(IActorRef reactor) => new("tx-gossip", reactor, [Descriptor]);
}

public sealed class TxGossipReactor : ReactorActor
{
    // Keyed by hash so that memory per transaction stays fixed whatever its size.
    private readonly HashSet<string> _seen = new();
    private readonly Dictionary<NodeId, PeerHandle> _peers = new();

    public TxGossipReactor()
    {
        Receive<Reactor.PeerAdded>(e => _peers[e.Peer.Id] = e.Peer);
        Receive<Reactor.PeerRemoved>(e => _peers.Remove(e.Peer.Id));
        Receive<Reactor.Received>(e => Relay(e.Message.ToArray(), from: e.Peer.Id));
        Receive<TxGossip.SubmitTx>(s => Relay(s.Tx, from: null));
    }

    private void Relay(byte[] tx, NodeId? from)
    {
        if (!_seen.Add(Convert.ToHexString(SHA256.HashData(tx)))) return;
        foreach (var peer in _peers.Values)
            if (peer.Id != from)
                peer.Send(TxGossip.Channel, tx);
    }
}
