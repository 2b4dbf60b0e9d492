using Akka;
using Akka.Actor;
using TendermintActors.Configuration;
using TendermintActors.Metrics;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Hosting;

/// <summary>
/// The Akka extension that hosts P2P nodes in any <see cref="ActorSystem"/>: <c>system.TendermintP2P()</c>. It injects
/// the library's reference.conf as a fallback, reads and validates <c>tendermint.p2p</c> from the system's config, and
/// starts switches whose peers are stopped gracefully by <see cref="CoordinatedShutdown"/> (phase
/// <c>service-unbind</c>: stop listening, flush and close every peer) before the actors stop.
/// </summary>
public sealed class TendermintP2P : IExtension
{
    private readonly ExtendedActorSystem _system;

    public TendermintP2P(ExtendedActorSystem system)
    {
        _system = system;
        system.Settings.InjectTopLevelFallback(P2PReferenceConfig.Load());
        Settings = P2PSettings.Create(system.Settings.Config);
    }

    /// <summary>The system's validated <c>tendermint.p2p</c> settings.</summary>
    public P2PSettings Settings { get; }

    public static TendermintP2P Get(ActorSystem system) => system.WithExtension<TendermintP2P, TendermintP2PExtensionId>();

    /// <summary>
    /// PEX as <c>tendermint.p2p</c> configures it: null when <c>pex = off</c>; otherwise its settings and the address
    /// book's, with relative files resolved against <paramref name="home"/> (the current directory when null).
    /// </summary>
    public PexOptions? PexFromConfig(string? home = null)
    {
        if (!Settings.Pex) return null;
        var file = Settings.AddrBookFile;
        if (home is not null && !Path.IsPathRooted(file)) file = Path.Combine(home, file);
        return new PexOptions(PexReactor.Settings.From(Settings), new AddrBook.Settings(Path.GetFullPath(file))
        {
            Strict = Settings.AddrBookStrict,
            SaveInterval = Settings.AddrBookSaveInterval,
            PrivateIds = Settings.PrivatePeerIds,
        });
    }

    /// <summary>
    /// Starts a node: its root actor (<see cref="P2PNode"/>, named <paramref name="name"/> under /user) with its switch
    /// and these reactors, on TCP unless another transport is given, with <see cref="Settings"/> unless others are
    /// given. With <paramref name="pex"/> (see <see cref="PexFromConfig"/>) the node also runs the address book and the
    /// PEX reactor (on channel 0x00). Completes with the node's handle once its switch listens; fails with an
    /// <see cref="IOException"/> naming the address when it cannot (the node is stopped then). Throws
    /// <see cref="ArgumentException"/>, before starting any actor, for settings the switch or PEX refuses (see
    /// <see cref="Switch.Props"/>).
    /// </summary>
    public Task<P2PNodeHandle> StartNode(NodeKey key, IReadOnlyList<ReactorRegistration> reactors, string name = "p2p",
        Switch.Settings? settings = null, IP2PTransport? transport = null, P2PMetrics? metrics = null, PexOptions? pex = null)
    {
        var switchSettings = settings ?? Switch.Settings.From(Settings);
        var node = _system.ActorOf(P2PNode.Props(key, switchSettings, reactors, transport ?? Settings.CreateTransport(), metrics, pex), name);
        // Asked first thing, so that the question is in the node's mailbox before anything can stop it.
        var giveUp = new CancellationTokenSource();
        var handle = node.Ask<P2PNodeHandle>(P2PNode.GetHandle.Instance, giveUp.Token);
        var timeout = switchSettings.HandshakeTimeout < TimeSpan.FromSeconds(10) ? TimeSpan.FromSeconds(10) : switchSettings.HandshakeTimeout;
        var terminated = node.WatchAsync();
        CoordinatedShutdown.Get(_system).AddTask(CoordinatedShutdown.PhaseServiceUnbind, $"tendermint-p2p-{name}", async () =>
        {
            if (terminated.IsCompleted) return Done.Instance; // stopped already (e.g. by its owner)
            try
            {
                // The node forwards Shutdown to its switch, which answers the asker once its peers are closed.
                var stopped = node.Ask<Switch.ShutdownComplete>(new Switch.Shutdown(timeout), timeout + TimeSpan.FromSeconds(1));
                await Task.WhenAny(stopped, terminated);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                // Its peers would not close in time: the actors stop next either way.
            }
            return Done.Instance;
        });
        return AwaitListening(_system, node, handle, terminated, timeout, giveUp);
    }

    /// <summary>The node's handle, or why it has none: its answer, its end, or the timeout, whichever comes first.</summary>
    private static async Task<P2PNodeHandle> AwaitListening(ActorSystem system, IActorRef node, Task<P2PNodeHandle> handle,
        Task terminated, TimeSpan timeout, CancellationTokenSource giveUp)
    {
        try
        {
            await Task.WhenAny(handle, terminated, Task.Delay(timeout, giveUp.Token));
            if (handle.IsCompleted)
                return await handle; // the node answers before it stops: its answer wins over its Terminated
        }
        finally
        {
            giveUp.Cancel(); // the delay, and the ask if it is still waiting
            giveUp.Dispose();
        }
        system.Stop(node); // it never listened, so it has no peers to close: a node that failed to start leaves nothing running
        throw terminated.IsCompleted
            ? new IOException("the P2P node stopped before its switch listened")
            : new AskTimeoutException($"the P2P node's switch did not listen within {timeout}");
    }
}

/// <summary>What PEX needs to run beside a switch: the reactor's settings and its address book's.</summary>
public sealed record PexOptions(PexReactor.Settings Reactor, AddrBook.Settings AddrBook);

public sealed class TendermintP2PExtensionId : ExtensionIdProvider<TendermintP2P>
{
    public override TendermintP2P CreateExtension(ExtendedActorSystem system) => new(system);
}

public static class TendermintP2PSystemExtensions
{
    /// <summary>The P2P extension of this system (created on first use).</summary>
    public static TendermintP2P TendermintP2P(this ActorSystem system) => Hosting.TendermintP2P.Get(system);
}
