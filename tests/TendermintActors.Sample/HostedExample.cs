using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TendermintActors.Hosting;

namespace TendermintActors.Sample;

/// <summary>How an application runs the gossip reactor in a hosted node (the specs run <see cref="AddTxNode"/>).</summary>
public static class HostedExample
{
    public static IHost Build(string[] args) =>
        Host.CreateDefaultBuilder(args)
            .ConfigureServices(services => AddTxNode(services, options =>
            {
                options.Moniker = "tx-node";
                options.Network = "test-net";
                options.ListenAddress = "tcp://0.0.0.0:26656";
                options.NodeKeyFile = "config/node_key.json";
                // PEX is on by default: the node finds peers through its seeds and keeps an address book.
                options.Seeds = ["<seed-id>@seed.example.com:26656"];
                options.AddrBookFile = "config/addrbook.json";
            }))
            .Build();

    /// <summary>
    /// The node with its reactor; Akka's log events (the switch's, PEX's, the address book's) go to the host's
    /// <c>ILoggerFactory</c>, so the application's logging configuration (console, JSON, OpenTelemetry, filters by
    /// category such as <c>TendermintActors.Switching</c>) applies to them.
    /// </summary>
    public static IServiceCollection AddTxNode(IServiceCollection services, Action<TendermintP2POptions> configure) =>
        services.AddAkka("tx-node", akka => akka
            .ConfigureLoggers(logging =>
            {
                logging.LogLevel = Akka.Event.LogLevel.InfoLevel;
                logging.ClearLoggers();
                logging.AddLoggerFactory();
            })
            .WithTendermintP2P(configure, (system, registry) =>
            {
                var gossip = system.ActorOf(TxGossip.Props(), "tx-gossip");
                // Registered so that an RPC handler can reach it with IRequiredActor<TxGossipReactor> and send SubmitTx.
                registry.Register<TxGossipReactor>(gossip);
                return [TxGossip.Registration(gossip)];
            }));
}
