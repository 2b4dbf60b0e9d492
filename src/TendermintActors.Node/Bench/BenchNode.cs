using System.Net;
using Akka.Actor;
using Akka.Configuration;
using TendermintActors.Node.Runtime;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Switching;

namespace TendermintActors.Node.Bench;

/// <summary>
/// The node a bench command runs: its own system and switch with one <see cref="BenchReactor"/> on the measured
/// channel, rate limits off on our side (the remote's own limits still apply: a CometBFT node's default
/// <c>recv-rate</c> is 5 MB/s).
/// </summary>
internal sealed class BenchNode : IAsyncDisposable
{
    /// <summary>Whole messages that may wait in the channel's send queue: enough to keep a fast link busy.</summary>
    public const int SendQueueCapacity = 1000;


    internal sealed record Settings(string Network, byte Channel, string ListenHost, int ListenPort)
    {
        /// <summary>The home whose key to use (created when missing); null for a throw-away key.</summary>
        public NodeHome? Home { get; init; }
        /// <summary>A second channel for a bulk transfer beside the measured one (bench echo --load-channel), at a lower priority.</summary>
        public byte? LoadChannel { get; init; }
        public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);
        /// <summary>This side's rate limits in bytes per second (0: none, the default, so that the target's are what is measured).</summary>
        public long SendRate { get; init; }
        public long RecvRate { get; init; }
    }

    private readonly NodeKey _key;

    private BenchNode(ActorSystem system, NodeKey key, RunningSwitch sw, IActorRef reactor, byte channel)
    {
        System = system;
        _key = key;
        Switch = sw.Switch;
        Id = sw.Id;
        ListenAddress = (IPEndPoint)sw.ListenAddress;
        Reactor = reactor;
        Channel = channel;
    }

    public ActorSystem System { get; }
    public IActorRef Switch { get; }
    public NodeId Id { get; }
    public IPEndPoint ListenAddress { get; }
    public IActorRef Reactor { get; }
    public byte Channel { get; }

    /// <summary>"id@host:port" to give a sender as its target.</summary>
    public string PeerAddress => $"{Id.Hex}@{NetAddress.FormatHostPort(ListenAddress.Address.ToString(), ListenAddress.Port)}";

    public static async Task<BenchNode> Start(Settings settings, TextWriter stderr, CancellationToken cancellation)
    {
        var key = NodeKeys.ForTool(settings.Home);
        // Logs at ERROR: failed dials are retried and their last reason ends up in the failure message anyway.
        var log = LogOutput.Default with { Levels = LogLevels.All(Akka.Event.LogLevel.ErrorLevel) };
        var system = ActorSystem.Create("tmactors-bench", NodeAkkaConfig.Create(log.Levels));
        try
        {
            LogSinks.Start(system, TextWriter.Synchronized(stderr), hold: false, log);
            var reactor = system.ActorOf(BenchReactor.Props(settings.Channel), "bench");
            // The measured channel above the load channel, as a consensus channel is above block parts (priorities 10 : 1).
            ChannelDescriptor[] descriptors = settings.LoadChannel is { } load
                ? [new ChannelDescriptor(settings.Channel, 10) { SendQueueCapacity = SendQueueCapacity }, new ChannelDescriptor(load, 1) { SendQueueCapacity = SendQueueCapacity }]
                : [new ChannelDescriptor(settings.Channel, 1) { SendQueueCapacity = SendQueueCapacity }];
            var switchSettings = new Switch.Settings
            {
                Moniker = "tmactors-bench",
                Network = settings.Network,
                ListenHost = settings.ListenHost,
                ListenPort = settings.ListenPort,
                DialStartJitter = TimeSpan.Zero,
                Connection = new MConnectionSettings { SendRate = settings.SendRate, RecvRate = settings.RecvRate },
            };
            var sw = await NodeSwitch.Start(system, "p2p", key, switchSettings, [new ReactorRegistration("bench", reactor, descriptors)],
                settings.StartTimeout, cancellation);
            // Failed dials reach the reactor only as switch events.
            sw.Switch.Tell(new Switching.Switch.Subscribe(reactor));
            return new BenchNode(system, key, sw, reactor, settings.Channel);
        }
        catch
        {
            await system.Terminate();
            key.Dispose();
            throw;
        }
    }

    /// <summary>Dials <paramref name="target"/> (again after each failure) until it is a peer; throws <see cref="TimeoutException"/> naming the last error.</summary>
    public Task<PeerHandle> ConnectAsync(NetAddress target, TimeSpan timeout, CancellationToken cancellation) =>
        Reactor.Ask<PeerHandle>(new BenchReactor.AwaitPeer(Switch, target, timeout, TimeSpan.FromMilliseconds(500)),
            timeout + TimeSpan.FromSeconds(5), cancellation);

    /// <summary>
    /// Stops the peer after its queues are flushed and completes when its connection is gone; throws
    /// <see cref="IOException"/> when it ended otherwise: with an error, or closed by the target before our flush
    /// (a target that rejects what we send, an oversized message say, hangs up on us). Either way not everything
    /// may have been delivered.
    /// </summary>
    public async Task FlushAndStopAsync(PeerHandle peer, TimeSpan timeout, CancellationToken cancellation)
    {
        var ours = PeerStopReason.Stopped("bench done");
        var gone = peer.Actor.WatchAsync(cancellation);
        Switch.Tell(new Switching.Switch.StopPeer(peer.Id, ours, Graceful: true));
        await gone.WaitAsync(timeout, cancellation);
        // The peer told the reactor why it ended before it stopped, so the reactor knows by now.
        var removal = await Reactor.Ask<BenchReactor.Removal>(new BenchReactor.GetRemoval(peer.Id), timeout, cancellation);
        switch (removal.Reason)
        {
            case { IsError: true } error:
                throw new IOException($"the connection ended with an error before the flush was confirmed: {error}");
            case { } reason when reason != ours:
                throw new IOException($"the target ended the connection before the flush was confirmed ({reason}); not every message may have been delivered");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await NodeSwitch.StopPolitely(Switch, TimeSpan.FromSeconds(5));
        await System.Terminate();
        _key.Dispose();
    }
}
