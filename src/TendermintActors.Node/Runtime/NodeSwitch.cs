using System.Net;
using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Hosting;
using TendermintActors.Pex;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// A switch that is listening: its actor, the node's ID and where it accepts connections; its node root; with PEX, the
/// PEX reactor, the address book and how PEX's start went.
/// </summary>
internal sealed record RunningSwitch(IActorRef Switch, NodeId Id, EndPoint ListenAddress)
{
    /// <summary>The node root (<see cref="P2PNode"/>) that supervises the switch, the book and PEX.</summary>
    public IActorRef Node { get; init; } = ActorRefs.Nobody;

    public IActorRef? Pex { get; init; }
    public IActorRef? AddrBook { get; init; }
    public Pex.PexReactor.StartReport? PexStart { get; init; }
}

/// <summary>Starting and stopping one node's switch inside a command's <see cref="ActorSystem"/>.</summary>
internal static class NodeSwitch
{
    /// <summary>
    /// Starts the switch through the hosting API (<see cref="TendermintP2P"/>: CoordinatedShutdown stops its peers
    /// politely) and completes once it listens. Throws <see cref="IOException"/> when it cannot listen, e.g.
    /// because the port is taken (a switch that cannot bind stops itself rather than retrying).
    /// </summary>
    public static async Task<RunningSwitch> Start(ActorSystem system, string name, NodeKey key, Switch.Settings settings,
        IReadOnlyList<ReactorRegistration> reactors, TimeSpan timeout, CancellationToken cancellation,
        Metrics.P2PMetrics? metrics = null, PexOptions? pex = null, IP2PTransport? transport = null)
    {
        // Completes once the switch listens; an IOException names the address and the socket's error when it cannot.
        var node = await system.TendermintP2P().StartNode(key, reactors, name, settings, transport ?? new TcpTransport(), metrics, pex)
            .WaitAsync(cancellation);
        var sw = node.Switch;
        if (node.ListenAddress is not { } listenAddress)
            throw new IOException($"the switch could not listen on {settings.ListenHost}:{settings.ListenPort}");
        var running = new RunningSwitch(sw, key.Id, listenAddress) { Node = node.Node, Pex = node.Pex, AddrBook = node.AddrBook };
        if (node.Pex is not { } pexActor)
            return running;
        // Seeds are resolved at PEX's start; the seeds' DNS gets its own 10 s on top of the start timeout.
        var report = await pexActor.Ask<Pex.PexReactor.StartReport>(Pex.PexReactor.AwaitStart.Instance, timeout + TimeSpan.FromSeconds(10), cancellation);
        return running with { PexStart = report };
    }

    /// <summary>
    /// Stops every peer gracefully (their queued messages are flushed, as Go's OnStop does) and waits for them up to
    /// <paramref name="timeout"/>. The switch itself stays (empty) until the system stops, so the hosting API's own
    /// shutdown task still finds it and nothing ends as a dead letter.
    /// </summary>
    public static async Task StopPolitely(IActorRef sw, TimeSpan timeout)
    {
        try
        {
            await sw.Ask<Switch.ShutdownComplete>(new Switch.Shutdown(timeout), timeout + TimeSpan.FromSeconds(1));
        }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
        {
            // Shutdown goes on: stopping the system closes whatever is left.
        }
    }
}
