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
    /// Starts a node (its switch actor, named <paramref name="name"/> under /user) with these reactors, on TCP unless
    /// another transport is given, with <see cref="Settings"/> unless others are given. With <paramref name="pex"/>
    /// (see <see cref="PexFromConfig"/>) it also starts the address book (<c>{name}-addrbook</c>) and the PEX reactor
    /// (<c>{name}-pex</c>, on channel 0x00) beside the switch. Throws <see cref="ArgumentException"/>, before starting
    /// any actor, for settings the switch or PEX refuses (see <see cref="Switch.Props"/>).
    /// </summary>
    public IActorRef StartNode(NodeKey key, IReadOnlyList<ReactorRegistration> reactors, string name = "p2p",
        SwitchSettings? settings = null, IP2PTransport? transport = null, P2PMetrics? metrics = null, PexOptions? pex = null) =>
        Start(key, reactors, name, settings, transport, metrics, pex).Switch;

    /// <summary>The actors of one started node: its switch and, with PEX, the PEX reactor and the address book.</summary>
    internal sealed record StartedNode(IActorRef Switch, IActorRef? Pex, IActorRef? AddrBook)
    {
        /// <summary>Stops all three and waits for them (a node that failed to start leaves nothing running).</summary>
        public async Task StopAsync(TimeSpan timeout)
        {
            var actors = new[] { Switch, Pex, AddrBook }.OfType<IActorRef>().ToList();
            try
            {
                await Task.WhenAll(actors.Select(a => a.GracefulStop(timeout)));
            }
            catch (TaskCanceledException)
            {
                // GracefulStop gave up waiting; the Stop it sent still stands.
            }
        }
    }

    /// <summary><see cref="StartNode"/>, keeping hold of every actor it started.</summary>
    internal StartedNode Start(NodeKey key, IReadOnlyList<ReactorRegistration> reactors, string name = "p2p",
        SwitchSettings? settings = null, IP2PTransport? transport = null, P2PMetrics? metrics = null, PexOptions? pex = null)
    {
        var switchSettings = settings ?? SwitchSettings.From(Settings);
        // Everything is checked before any actor starts, so a refused setting leaves no address book or PEX behind.
        pex?.Reactor.Validate();
        Switch.Check(key, switchSettings,
            pex is null ? reactors : [new ReactorRegistration("pex", ActorRefs.Nobody, [PexReactor.Descriptor]), .. reactors]);
        IActorRef? pexReactor = null, book = null;
        if (pex is not null)
        {
            book = _system.ActorOf(AddrBook.Props(pex.AddrBook with
            {
                PrivateIds = pex.AddrBook.PrivateIds.Count > 0 ? pex.AddrBook.PrivateIds : switchSettings.PrivatePeerIds,
            }), name + "-addrbook");
            pexReactor = _system.ActorOf(PexReactor.Props(pex.Reactor, book), name + "-pex");
            reactors = [new ReactorRegistration("pex", pexReactor, [PexReactor.Descriptor]), .. reactors];
        }
        var node = _system.ActorOf(Switch.Props(key, switchSettings, reactors, transport ?? Settings.CreateTransport(), metrics), name);
        pexReactor?.Tell(new PexReactor.Attach(node));
        var timeout = switchSettings.HandshakeTimeout < TimeSpan.FromSeconds(10) ? TimeSpan.FromSeconds(10) : switchSettings.HandshakeTimeout;
        var terminated = node.WatchAsync();
        CoordinatedShutdown.Get(_system).AddTask(CoordinatedShutdown.PhaseServiceUnbind, $"tendermint-p2p-{name}", async () =>
        {
            if (terminated.IsCompleted) return Done.Instance; // stopped already (e.g. by its owner)
            try
            {
                var stopped = node.Ask<Switch.ShutdownComplete>(new Switch.Shutdown(timeout), timeout + TimeSpan.FromSeconds(1));
                await Task.WhenAny(stopped, terminated);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                // Its peers would not close in time: the actors stop next either way.
            }
            return Done.Instance;
        });
        return new StartedNode(node, pexReactor, book);
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
