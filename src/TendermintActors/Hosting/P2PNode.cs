using Akka.Actor;
using TendermintActors.Hosting.Internal;
using TendermintActors.Metrics;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Hosting;

/// <summary>
/// A node's root actor: it creates and supervises the node's actors, <c>switch</c> (with the peers under it) and, with
/// PEX, <c>addrbook</c> and <c>pex</c>, so that one node reads as one tree (<c>/user/p2p/switch</c>, …). It forwards
/// every <see cref="Switch.ICommand"/> to the switch (the sender kept, so replies go to the asker), so users talk to
/// the node alone.
/// <para>
/// Supervision: the node's actors live and die together. A child that throws is stopped, never restarted (a restart
/// would lose the switch's peers and subscribers, or the book's state); the node logs the reason, tells its
/// subscribers <see cref="ChildFailed"/>, closes the peers gracefully and stops. When the switch stops (e.g. it cannot
/// listen) the node stops with it. Whoever started the node watches it to learn that it ended.
/// </para>
/// </summary>
public static class P2PNode
{
    /// <summary>The children's names under the node.</summary>
    public const string SwitchName = "switch", AddrBookName = "addrbook", PexName = "pex";

    public interface ICommand;

    /// <summary>
    /// Replies the node's <see cref="P2PNodeHandle"/> once its switch listens (at once if it does), or a
    /// <see cref="Status.Failure"/> with an <see cref="IOException"/> when the switch cannot listen (the node stops then).
    /// </summary>
    public sealed record GetHandle : ICommand
    {
        public static readonly GetHandle Instance = new();
    }

    /// <summary>Sends <paramref name="Subscriber"/> the node's events (<see cref="ChildFailed"/>) until it terminates.</summary>
    public sealed record Subscribe(IActorRef Subscriber) : ICommand;

    /// <summary>The child <paramref name="Child"/> (<see cref="SwitchName"/>, …) threw <paramref name="Reason"/>; the node stops.</summary>
    public sealed record ChildFailed(string Child, Exception Reason);

    /// <summary>
    /// Stops the node: its peers are closed gracefully (<see cref="Switch.Shutdown"/>, up to <paramref name="Timeout"/>),
    /// then every child and the node stop. Watch the node to learn when it is gone.
    /// </summary>
    public sealed record Stop(TimeSpan Timeout) : ICommand;

    /// <summary>
    /// A node with these reactors (and, with <paramref name="pex"/>, the address book and the PEX reactor on channel
    /// 0x00). Throws <see cref="ArgumentException"/>, before any actor exists, for settings the switch or PEX refuses
    /// (see <see cref="Switch.Props"/>).
    /// </summary>
    public static Props Props(NodeKey key, Switch.Settings settings, IReadOnlyList<ReactorRegistration> reactors, IP2PTransport transport,
        P2PMetrics? metrics = null, PexOptions? pex = null)
    {
        pex?.Reactor.Validate();
        Switch.Check(key, settings,
            pex is null ? reactors : [new ReactorRegistration(PexName, ActorRefs.Nobody, [PexReactor.Descriptor]), .. reactors]);
        if (pex is not null && pex.AddrBook.PrivateIds.Count == 0)
            pex = pex with { AddrBook = pex.AddrBook with { PrivateIds = settings.PrivatePeerIds } };
        return Akka.Actor.Props.Create(() => new P2PNodeActor(key, settings, reactors, transport, metrics, pex));
    }
}

/// <summary>
/// One started node: its ID, its root actor (<see cref="P2PNode"/>; Tell it <see cref="Switch.ICommand"/>s), the
/// children it supervises (the switch and, with PEX, the address book and the PEX reactor), and where its switch
/// listens (null when it does not: <see cref="Switch.Settings.ListenHost"/> null).
/// </summary>
public sealed record P2PNodeHandle(NodeId Id, IActorRef Node, IActorRef Switch, IActorRef? AddrBook, IActorRef? Pex,
    System.Net.EndPoint? ListenAddress);
