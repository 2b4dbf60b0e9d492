using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using TendermintActors.Configuration;
using TendermintActors.Metrics;

namespace TendermintActors.Node.Rpc;

/// <summary>
/// One node's p2p instruments and, when the node serves <c>/metrics</c>, the OpenTelemetry meter provider that exports
/// them. Every node's meter is called <see cref="P2PMetrics.MeterName"/>, and a provider listens by name, so the meters
/// come from a factory of this node and the provider drops instruments of other factories: nodes sharing a process
/// (tests, localnet) each export only their own numbers. A node without RPC has no exporter: the instruments then
/// record into nothing, and the OpenTelemetry SDK and its dependencies are never loaded (a few MB of an idle node's
/// resident set, docs/performance.md, "An idle node").
/// </summary>
internal sealed class NodeMetrics : IDisposable
{
    private readonly NodeMeterFactory _factory = new();
    private MeterProvider? _provider;

    public NodeMetrics(P2PSettings p2p)
    {
        P2P = new P2PMetrics(p2p.Network, p2p.Metrics.Namespace, p2p.Metrics.PerPeerLabels, _factory);
    }

    public P2PMetrics P2P { get; }

    /// <summary>The provider that exports this node's instruments, built on first use (before the switch starts).</summary>
    public MeterProvider Exporter => _provider ??= BuildExporter();

    /// <summary>Whether <see cref="Exporter"/> has been built.</summary>
    public bool IsExporting => _provider is not null;

    private MeterProvider BuildExporter()
    {
        var provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(P2PMetrics.MeterName)
            .AddView(instrument => instrument.Meter.Scope == _factory ? null : MetricStreamConfiguration.Drop)
            .AddPrometheusExporter(options =>
            {
                // CometBFT's exposition has neither, and scope labels would be added to every series.
                options.ScopeInfoEnabled = false;
                options.TargetInfoEnabled = false;
                // A scrape must see the latest numbers (tests scrape right after traffic).
                options.ScrapeResponseCacheDurationMilliseconds = 0;
            })
            .Build();
        // A net change of zero, after Build so the provider sees it: cometbft_p2p_peers then reads 0 before the first
        // peer instead of being absent (dashboards and alerts tell "no series" from "no peers").
        P2P.PeerAdded();
        P2P.PeerRemoved();
        return provider;
    }

    public void Dispose()
    {
        _provider?.Dispose();
        P2P.Dispose();
        _factory.Dispose();
    }

    private sealed class NodeMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters)
                meter.Dispose();
        }
    }
}
