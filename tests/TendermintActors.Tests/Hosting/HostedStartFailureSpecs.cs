using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TendermintActors.Configuration;
using TendermintActors.Hosting;
using TendermintActors.Protocol.Identity;
using TendermintActors.Tests.AddrBook;

namespace TendermintActors.Tests.Hosting;

/// <summary>A hosted node that cannot start: what the host sees, and what is left running.</summary>
public sealed class HostedStartFailureSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static IHost Host(Action<TendermintP2POptions> configure, string? hocon = null) =>
        new HostBuilder().ConfigureServices(services =>
        {
            void Configure(AkkaConfigurationBuilder builder, IServiceProvider _)
            {
                if (hocon is not null) builder.AddHocon(ConfigurationFactory.ParseString(hocon), HoconAddMode.Prepend);
                builder.WithTendermintP2P(o =>
                {
                    o.Moniker = "hosted";
                    o.Network = "failing-net";
                    o.ListenAddress = "tcp://127.0.0.1:0";
                    o.NodeKey = NodeKey.Generate();
                    configure(o);
                }, (_, _) => []);
            }

            services.AddAkka("hosted", Configure);
        }).Build();

    [Fact]
    public async Task StartAsync_throws_the_bind_error_and_the_failed_node_is_not_registered_nor_leaves_pex_running()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var dir = new TempDir();
        using var host = Host(o =>
        {
            o.ListenAddress = $"tcp://127.0.0.1:{port}";
            o.AddrBookFile = dir.File("addrbook.json");
        });

        var error = await Assert.ThrowsAsync<IOException>(() => host.StartAsync().WaitAsync(Timeout));
        Assert.Contains($"127.0.0.1:{port}", error.Message);
        Assert.Equal(SocketError.AddressAlreadyInUse, error.GetBaseException() is SocketException s ? s.SocketErrorCode : SocketError.Success);

        var system = host.Services.GetRequiredService<ActorSystem>();
        Assert.False(ActorRegistry.For(system).TryGet<TendermintP2PNode>(out _));
        foreach (var name in new[] { "p2p", "p2p/pex", "p2p/addrbook", "p2p/switch" })
            await Assert.ThrowsAsync<ActorNotFoundException>(() => system.ActorSelection($"/user/{name}").ResolveOne(Timeout));
        await system.Terminate();
    }

    [Fact]
    public async Task StartAsync_throws_a_bad_tendermint_p2p_value_naming_the_key()
    {
        using var host = Host(o => o.Pex = false, hocon: "tendermint.p2p.max-num-inbound-peers = -3");
        var error = await Assert.ThrowsAsync<P2PConfigurationException>(() => host.StartAsync().WaitAsync(Timeout));
        Assert.Equal("tendermint.p2p.max-num-inbound-peers", error.Key);
    }

    [Fact]
    public async Task StartAsync_throws_when_the_actor_system_itself_cannot_be_created()
    {
        using var host = Host(o => o.Pex = false, hocon: "akka.actor.provider = \"No.Such.Provider, No.Such.Assembly\"");
        await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync().WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_node_that_starts_is_registered_and_StartAsync_returns()
    {
        using var dir = new TempDir();
        using var host = Host(o => o.AddrBookFile = dir.File("addrbook.json"));
        await host.StartAsync().WaitAsync(Timeout);
        try
        {
            var node = await host.Services.GetRequiredService<IRequiredActor<TendermintP2PNode>>().GetAsync().WaitAsync(Timeout);
            var info = await node.Ask<TendermintActors.Switching.Switch.NodeInfoReply>(TendermintActors.Switching.Switch.GetNodeInfo.Instance, Timeout);
            Assert.NotNull(info.ListenAddress);
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
