using Akka.Actor;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Diagnostics;
using TendermintActors.Switching;

namespace TendermintActors.Node.Tests;

public sealed class StartCommandSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static TempHome InitHome(string moniker)
    {
        var home = new TempHome();
        var init = CliRun.Of("init", "--home", home.Root, "--moniker", moniker);
        Assert.Equal(0, init.ExitCode);
        return home;
    }

    [Fact]
    public async Task A_node_whose_address_book_fails_stops_and_the_command_learns_it_failed()
    {
        using var home = InitHome("failing");
        await using var node = await StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "tcp://127.0.0.1:0",
            Sets = ["tendermint.p2p.addr-book-strict=off"],
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);

        node.AddrBook!.Tell(Akka.Actor.Kill.Instance);

        Assert.True(await node.WaitAsync(CancellationToken.None).WaitAsync(Timeout));
    }

    [Fact]
    public async Task A_node_stopped_by_the_system_shutting_down_did_not_fail()
    {
        using var home = InitHome("cancelled");
        await using var node = await StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "tcp://127.0.0.1:0",
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);

        var waiting = node.WaitAsync(CancellationToken.None);
        await Akka.Actor.CoordinatedShutdown.Get(node.System).Run(Akka.Actor.CoordinatedShutdown.ClrExitReason.Instance);

        Assert.False(await waiting.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Two_started_nodes_connect_through_persistent_peers_and_echo_over_loopback()
    {
        using var home1 = InitHome("one");
        using var home2 = InitHome("two");
        var out1 = new StringWriter();
        var out2 = new StringWriter();

        await using var node1 = await StartCommand.StartAsync(new StartCommand.Options(home1.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "tcp://127.0.0.1:0",
            EchoChannel = 0x42,
            // Both ends must know a channel to use it.
            SinkChannels = [0x43, 0x44],
        }, out1, new StringWriter(), CancellationToken.None).WaitAsync(Timeout);

        await using var node2 = await StartCommand.StartAsync(new StartCommand.Options(home2.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "tcp://127.0.0.1:0",
            PersistentPeers = node1.PeerAddress,
            Pex = false,
            EchoChannel = 0x42,
            SinkChannels = [0x43, 0x44],
            // The flag says moniker "flag", --set says "set": --set wins. The jitter only slows the test down.
            Moniker = "flag",
            Sets = ["tendermint.p2p.moniker=set", "tendermint.p2p.dial-start-jitter=0s", "tendermint.p2p.addr-book-strict=off"],
        }, out2, new StringWriter(), CancellationToken.None).WaitAsync(Timeout);

        Assert.Contains($"Node ID: {node1.Id.Hex}", out1.ToString());
        Assert.Contains($"Listening on: {node1.ListenAddress}", out1.ToString());
        Assert.Equal("set", node2.Settings.Moniker);
        Assert.False(node2.Settings.Pex);
        Assert.False(node2.Settings.AddrBookStrict);
        Assert.Equal(Path.Combine(home2.Root, "config/addrbook.json"), node2.AddrBookFile);

        var connected = await node1.Switch.Ask<Switch.PeerConnected>(r => new Switch.Subscribe(new FirstPeer(r).Ref(node1.System)), Timeout, CancellationToken.None);
        Assert.Equal(node2.Id, connected.Peer.Id);
        Assert.Equal("set", connected.Peer.NodeInfo.Moniker);

        // Traffic from node 1 to node 2's sink, on each of its channels, counted there.
        Assert.Equal(new byte[] { 0x42, 0x43, 0x44 }, connected.Peer.NodeInfo.Channels.ToArray().Order().ToArray());
        connected.Peer.Send(0x43, new byte[] { 1, 2, 3 });
        connected.Peer.Send(0x44, new byte[] { 4 });
        var counts = await node2.Sink!.Ask<SinkReactor.Counts>(new SinkReactor.AwaitMessages(2), Timeout);
        Assert.Equal(new SinkReactor.Counts(2, 4), counts);
    }

    [Fact]
    public async Task Nodes_given_only_a_seed_find_each_other_through_PEX_with_no_other_reactor()
    {
        using var seedHome = InitHome("seed");
        using var home1 = InitHome("one");
        using var home2 = InitHome("two");
        string[] local = ["tendermint.p2p.addr-book-strict=off", "tendermint.p2p.allow-duplicate-ip=on", "tendermint.p2p.dial-start-jitter=0s"];
        await using var seed = await StartCommand.StartAsync(new StartCommand.Options(seedHome.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0", RpcListenAddress = "", SeedMode = true, Sets = local,
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);
        StartCommand.Options Node(TempHome home) => new(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0", RpcListenAddress = "", Seeds = seed.PeerAddress, Sets = local,
        };

        await using var node1 = await StartCommand.StartAsync(Node(home1), new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);
        await using var node2 = await StartCommand.StartAsync(Node(home2), new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);

        // node2 hears of node1 from the seed and dials it; node1 may hear of node2 on its next request to the seed and
        // dial too, so either may be the one that dialled (both at once is Go's race as well: the duplicate loses).
        var peer1 = await node1.Switch.Ask<Switch.PeerConnected>(r => new Switch.Subscribe(new PeerWith(node2.Id.Hex, r).Ref(node1.System)),
            Timeout, CancellationToken.None);
        var peer2 = await node2.Switch.Ask<Switch.PeerConnected>(r => new Switch.Subscribe(new PeerWith(node1.Id.Hex, r).Ref(node2.System)),
            Timeout, CancellationToken.None);
        Assert.Equal(node2.Id, peer1.Peer.Id);
        Assert.Equal(node1.Id, peer2.Peer.Id);
        // PEX is the only reactor: channel 0x00 alone is advertised.
        Assert.Equal([(byte)0x00], peer1.Peer.NodeInfo.Channels.ToArray());
        Assert.NotNull(node1.Pex);
    }

    [Fact]
    public void Start_fails_naming_the_seeds_key_when_no_seed_resolves_and_the_address_book_is_empty()
    {
        using var home = InitHome("lost");
        var run = CliRun.Of("start", "--home", home.Root, "--p2p.laddr", "tcp://127.0.0.1:0", "--rpc.laddr", "",
            "--p2p.seeds", new string('a', 40) + "@seed.invalid:26656");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tendermint.p2p.seeds: none of the 1 seed(s) resolves and the address book is empty", run.Stderr);
    }

    [Fact]
    public void Start_without_PEX_needs_a_diagnostics_channel_and_says_so()
    {
        using var home = InitHome("mute");
        var run = CliRun.Of("start", "--home", home.Root, "--p2p.pex", "false");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tendermint.p2p.pex = off and no --echo-channel or --sink-channel", run.Stderr);
    }

    [Theory]
    [InlineData("--sink-channel 0x43,0x44,0x43", "--sink-channel has 0x43 twice")]
    [InlineData("--echo-channel 0x43 --sink-channel 0x20,0x43", "--echo-channel and --sink-channel both have 0x43")]
    [InlineData("--sink-channel 0x20,zz", "--sink-channel 'zz' is not a channel ID")]
    public void Start_refuses_sink_channels_that_clash_or_do_not_parse(string flags, string error)
    {
        using var home = InitHome("sinks");
        var run = CliRun.Of(["start", "--home", home.Root, "--rpc.laddr", "", .. flags.Split(' ')]);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(error, run.Stderr);
    }

    [Fact]
    public void Channel_zero_belongs_to_PEX()
    {
        using var home = InitHome("zero");
        var run = CliRun.Of("start", "--home", home.Root, "--echo-channel", "0x00");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("channel 0x00 belongs to PEX", run.Stderr);
    }

    [Fact]
    public void Start_refuses_a_bad_value_set_on_the_command_line_naming_the_key()
    {
        using var home = InitHome("bad");
        var run = CliRun.Of("start", "--home", home.Root, "--sink-channel", "0x43", "--set", "tendermint.p2p.max-num-inbound-peers=-1");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tendermint.p2p.max-num-inbound-peers = -1", run.Stderr);
    }

    [Fact]
    public void Start_refuses_a_node_info_peers_would_refuse_saying_why()
    {
        using var home = InitHome("long");
        var run = CliRun.Of("start", "--home", home.Root, "--p2p.laddr", "tcp://127.0.0.1:0", "--rpc.laddr", "",
            "--moniker", new string('m', 11_000));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("the node did not start: this node's info takes", run.Stderr);
        Assert.Contains("more than the 10240 peers accept", run.Stderr);
    }

    [Fact]
    public void Start_names_the_rpc_flag_when_its_address_cannot_be_bound()
    {
        using var home = InitHome("rpc");
        // 192.0.2.1 (TEST-NET-1) is no address of this machine: Kestrel fails with a bare SocketException.
        var run = CliRun.Of("start", "--home", home.Root, "--p2p.laddr", "tcp://127.0.0.1:0", "--rpc.laddr", "tcp://192.0.2.1:26657");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("cannot serve RPC on tendermint.rpc.laddr (--rpc.laddr) tcp://192.0.2.1:26657", run.Stderr);
    }

    [Fact]
    public void Start_refuses_a_home_without_node_conf()
    {
        using var home = new TempHome();
        var run = CliRun.Of("start", "--home", home.Root, "--sink-channel", "0x43");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("node.conf", run.Stderr);
    }

    [Fact]
    public void Flags_map_to_hocon_keys_and_set_wins_over_flags_last_set_winning()
    {
        using var home = InitHome("layers");
        var config = StartCommand.LoadConfig(new StartCommand.Options(home.Home)
        {
            Moniker = "flag",
            SeedMode = true,
            ListenAddress = "tcp://127.0.0.1:9",
            Sets = ["tendermint.p2p.moniker=first", "tendermint.p2p.moniker=second", "tendermint.p2p.external-address=tcp://1.2.3.4:5"],
        });
        Assert.Equal("second", config.GetString("tendermint.p2p.moniker"));
        Assert.True(config.GetBoolean("tendermint.p2p.seed-mode"));
        Assert.Equal("tcp://127.0.0.1:9", config.GetString("tendermint.p2p.laddr"));
        Assert.Equal("tcp://1.2.3.4:5", config.GetString("tendermint.p2p.external-address"));
        Assert.Equal("test-net", config.GetString("tendermint.p2p.network"));
    }

    /// <summary>Forwards the <see cref="Switch.PeerConnected"/> of one peer ID (already connected or not yet) to the asker.</summary>
    private sealed class PeerWith(string id, IActorRef replyTo)
    {
        public IActorRef Ref(ActorSystem system) => system.ActorOf(Props.Create(() => new Forwarder(id, replyTo)));

        private sealed class Forwarder : ReceiveActor
        {
            public Forwarder(string id, IActorRef replyTo)
            {
                Receive<Switch.PeerConnected>(c => c.Peer.Id.Hex == id, connected =>
                {
                    replyTo.Tell(connected);
                    Context.Stop(Self);
                });
                ReceiveAny(_ => { });
            }
        }
    }

    /// <summary>Forwards the first <see cref="Switch.PeerConnected"/> it hears to the asker.</summary>
    private sealed class FirstPeer(IActorRef replyTo)
    {
        public IActorRef Ref(ActorSystem system) => system.ActorOf(Props.Create(() => new Forwarder(replyTo)));

        private sealed class Forwarder : ReceiveActor
        {
            public Forwarder(IActorRef replyTo)
            {
                Receive<Switch.PeerConnected>(connected =>
                {
                    replyTo.Tell(connected);
                    Context.Stop(Self);
                });
                ReceiveAny(_ => { });
            }
        }
    }
}
