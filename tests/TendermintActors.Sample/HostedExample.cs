using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TendermintActors.Hosting;

namespace TendermintActors.Sample;

/// <summary>How an application runs the gossip reactor in a hosted node (compiled, not run by the specs).</summary>
public static class HostedExample
{
    public static IHost Build(string[] args) =>
        Host.CreateDefaultBuilder(args)
            .ConfigureServices(services => services.AddAkka("tx-node", akka => akka
                .WithTendermintP2P(options =>
                {
                    options.Moniker = "tx-node";
                    options.Network = "test-net";
                    options.ListenAddress = "tcp://0.0.0.0:26656";
                    options.NodeKeyFile = "config/node_key.json";
                    // PEX is on by default: the node finds peers through its seeds and keeps an address book.
                    options.Seeds = ["<seed-id>@seed.example.com:26656"];
                    options.AddrBookFile = "config/addrbook.json";
                }, (system, registry) =>
                {
                    var gossip = system.ActorOf(TxGossip.Props(), "tx-gossip");
                    // Registered so that an RPC handler can reach it with IRequiredActor<TxGossipReactor> and send SubmitTx.
                    registry.Register<TxGossipReactor>(gossip);
                    return [TxGossip.Registration(gossip)];
                })))
            .Build();
}
