using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using TendermintActors.Configuration;
using TendermintActors.Metrics;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Hosting;

/// <summary>
/// The key under which a node's root actor (<see cref="P2PNode"/>) is registered: <c>IRequiredActor&lt;TendermintP2PNode&gt;</c>.
/// It forwards switch commands (<see cref="Switch.ICommand"/>: DialPeers, Broadcast, Subscribe, …) to its switch.
/// </summary>
public sealed class TendermintP2PNode;

/// <summary>
/// What a hosted node is given in code. Every property left null keeps reference.conf's default; the set ones become
/// HOCON prepended to the application's configuration (so they win), and the reference is appended (so it never does).
/// </summary>
public sealed class TendermintP2POptions
{
    public string? Moniker { get; set; }
    public string? Network { get; set; }
    /// <summary><c>tcp://host:port</c>; port 0 picks a free one.</summary>
    public string? ListenAddress { get; set; }
    public string? ExternalAddress { get; set; }
    public IReadOnlyList<string>? PersistentPeers { get; set; }
    public IReadOnlyList<string>? Seeds { get; set; }
    /// <summary>Peer exchange (default on): with it the node runs the PEX reactor and the address book.</summary>
    public bool? Pex { get; set; }
    public bool? SeedMode { get; set; }
    /// <summary>The address book file (relative paths against the current directory).</summary>
    public string? AddrBookFile { get; set; }
    public int? MaxInboundPeers { get; set; }
    public int? MaxOutboundPeers { get; set; }
    public bool? AllowDuplicateIp { get; set; }
    public bool? AddrBookStrict { get; set; }
    /// <summary>Where the node key lives (created when missing). Ignored when <see cref="NodeKey"/> is set.</summary>
    public string? NodeKeyFile { get; set; }
    /// <summary>A key in hand (tests, or keys kept elsewhere); otherwise <see cref="NodeKeyFile"/> is used.</summary>
    public NodeKey? NodeKey { get; set; }
    /// <summary>The node root's actor name under /user.</summary>
    public string ActorName { get; set; } = "p2p";
    /// <summary>Another transport (e.g. <see cref="InMemoryTransport"/> in tests); TCP otherwise.</summary>
    public IP2PTransport? Transport { get; set; }
    public P2PMetrics? Metrics { get; set; }
    /// <summary>
    /// How long the node may take to listen (and PEX to resolve its seeds) before <c>host.StartAsync()</c> fails.
    /// </summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The options as HOCON under <c>tendermint.p2p</c> (only what was set).</summary>
    public Config ToHocon()
    {
        var sb = new StringBuilder("tendermint.p2p {\n");
        void Str(string key, string? value) { if (value is not null) sb.Append(CultureInfo.InvariantCulture, $"  {key} = {Quote(value)}\n"); }
        void Val(string key, object? value) { if (value is not null) sb.Append(CultureInfo.InvariantCulture, $"  {key} = {Format(value)}\n"); }
        Str("moniker", Moniker);
        Str("network", Network);
        Str("laddr", ListenAddress);
        Str("external-address", ExternalAddress);
        Str("persistent-peers", PersistentPeers is null ? null : string.Join(",", PersistentPeers));
        Str("seeds", Seeds is null ? null : string.Join(",", Seeds));
        Val("pex", Pex);
        Val("seed-mode", SeedMode);
        Str("addr-book-file", AddrBookFile);
        Val("max-num-inbound-peers", MaxInboundPeers);
        Val("max-num-outbound-peers", MaxOutboundPeers);
        Val("allow-duplicate-ip", AllowDuplicateIp);
        Val("addr-book-strict", AddrBookStrict);
        Str("node-key-file", NodeKeyFile);
        sb.Append("}\n");
        return ConfigurationFactory.ParseString(sb.ToString());
    }

    private static string Format(object value) => value switch
    {
        bool b => b ? "on" : "off",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}

/// <summary>Akka.Hosting: add a P2P node to an <c>AddAkka(...)</c> application.</summary>
public static class AkkaHostingExtensions
{
    /// <summary>A node configured by <paramref name="configure"/>, with the reactors <paramref name="reactors"/> makes.</summary>
    public static AkkaConfigurationBuilder WithTendermintP2P(this AkkaConfigurationBuilder builder,
        Action<TendermintP2POptions> configure, Func<ActorSystem, IActorRegistry, IReadOnlyList<ReactorRegistration>> reactors)
    {
        var options = new TendermintP2POptions();
        configure(options);
        return builder.WithTendermintP2P(options, reactors);
    }

    /// <summary>A node on <paramref name="network"/> listening on <paramref name="listenAddress"/>.</summary>
    public static AkkaConfigurationBuilder WithTendermintP2P(this AkkaConfigurationBuilder builder,
        string moniker, string network, string listenAddress,
        Func<ActorSystem, IActorRegistry, IReadOnlyList<ReactorRegistration>> reactors) =>
        builder.WithTendermintP2P(new TendermintP2POptions { Moniker = moniker, Network = network, ListenAddress = listenAddress }, reactors);

    /// <summary>A node from an options object.</summary>
    public static AkkaConfigurationBuilder WithTendermintP2P(this AkkaConfigurationBuilder builder,
        TendermintP2POptions options, Func<ActorSystem, IActorRegistry, IReadOnlyList<ReactorRegistration>> reactors)
    {
        builder.AddHocon(options.ToHocon(), HoconAddMode.Prepend);
        builder.AddHocon(P2PReferenceConfig.Load(), HoconAddMode.Append);
        builder.WithActors(new ActorStarter(async (system, registry) =>
        {
            // A bad tendermint.p2p value throws here (P2PConfigurationException), a refused setting in Start.
            var extension = system.TendermintP2P();
            var key = options.NodeKey ?? NodeKeyFile.LoadOrGenerate(extension.Settings.NodeKeyFile);
            // Completes once the switch listens, or throws what stopped it (the node is stopped then).
            var node = await extension.StartNode(key, reactors(system, registry), options.ActorName,
                transport: options.Transport, metrics: options.Metrics, pex: extension.PexFromConfig())
                .WaitAsync(options.StartTimeout);
            try
            {
                await AwaitPexStarted(node, options.StartTimeout);
            }
            catch
            {
                // A node that failed to start leaves nothing running.
                try
                {
                    await node.Node.GracefulStop(options.StartTimeout);
                }
                catch (TaskCanceledException)
                {
                    // GracefulStop gave up waiting; the Stop it sent still stands.
                }
                throw;
            }
            // Only a node whose switch listens is handed out.
            registry.Register<TendermintP2PNode>(node.Node);
        }));
        return builder;
    }

    /// <summary>Completes once PEX has started (at once without PEX); throws when it cannot start.</summary>
    private static async Task AwaitPexStarted(P2PNodeHandle node, TimeSpan timeout)
    {
        if (node.Pex is { } pex)
        {
            var report = await pex.Ask<PexReactor.StartReport>(PexReactor.AwaitStart.Instance, timeout, CancellationToken.None);
            if (report.Error is { } error)
                throw new InvalidOperationException($"PEX cannot start: {error}");
        }
    }
}
