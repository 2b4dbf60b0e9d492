using Akka;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Node.Diagnostics;
using TendermintActors.Node.Runtime;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;

namespace TendermintActors.Node.Commands;

/// <summary>
/// <c>tmactors localnet</c>: a small network in one process, found through PEX. A seed node (seed mode) starts first;
/// every other node has a throw-away key and address book, listens on loopback, knows only the seed, and runs the
/// gossip demo reactor. Each asks the seed for addresses and dials what it hears at once, so the nodes find each other
/// (a full mesh); ensure-peers rounds fill any gap. The run ends after <see cref="Options.Duration"/>; the exit code says
/// whether every node connected to and heard from every other.
/// </summary>
internal static class LocalnetCommand
{
    public const int DefaultNodes = 4;
    public const int MaxNodes = 64;
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(30);

    /// <summary>A run's options; <c>Live</c> redraws a per-node table every second (only when stdout is a terminal).</summary>
    internal sealed record Options(int Nodes, TimeSpan Duration, int BasePort, bool Live)
    {
        public TimeSpan GossipInterval { get; init; } = TimeSpan.FromSeconds(1);
        public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);
        public TimeSpan EnsurePeersPeriod { get; init; } = TimeSpan.FromSeconds(2);
        /// <summary><c>--log_level</c> (warnings and errors by default) and <c>--log_format</c>.</summary>
        public LogOutput Log { get; init; } = DefaultLog;
    }

    private static readonly LogOutput DefaultLog = LogOutput.Default with { Levels = LogLevels.All(Akka.Event.LogLevel.WarningLevel) };

    public static Command Create()
    {
        var nodes = new Option<int>("--nodes")
        {
            Description = $"Number of nodes (2 to {MaxNodes})",
            HelpName = "N",
            DefaultValueFactory = _ => DefaultNodes,
        };
        var duration = new Option<string>("--duration")
        {
            Description = "How long to run, e.g. 500ms, 30s, 1m",
            HelpName = "DURATION",
            DefaultValueFactory = _ => "30s",
        };
        var basePort = new Option<int>("--base-port")
        {
            Description = "Node i listens on base-port + i; 0 lets the OS pick free ports",
            HelpName = "PORT",
            DefaultValueFactory = _ => 0,
        };
        var command = new Command("localnet", "Run a seed and N nodes on loopback in this process; they find each other through PEX, and every node must hear every other");
        command.Options.Add(nodes);
        command.Options.Add(duration);
        command.Options.Add(basePort);
        var (logLevel, logFormat) = LogFlags.Create("warn");
        command.Options.Add(logLevel);
        command.Options.Add(logFormat);
        command.SetAction(async (parse, cancellation) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            if (!Durations.TryParse(parse.GetValue(duration), out var runFor, out var error))
                return Fail(stderr, $"--duration {error}");
            if (!LogFlags.TryParse(parse, logLevel, logFormat, out var log, out var logError))
                return Fail(stderr, logError);
            var live = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
            using var signals = new ShutdownSignals(cancellation);
            return await RunAsync(new Options(parse.GetValue(nodes), runFor, parse.GetValue(basePort), live) { Log = log }, stdout, stderr, signals.Token);
        });
        return command;
    }

    public static async Task<int> RunAsync(Options options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        if (options.Nodes is < 2 or > MaxNodes)
            return Fail(stderr, $"--nodes {options.Nodes} must be between 2 and {MaxNodes}");
        if (options.BasePort != 0 && (options.BasePort < 1 || options.BasePort + options.Nodes - 1 > IPEndPoint.MaxPort))
            return Fail(stderr, $"--base-port {options.BasePort} must be 0 or leave room for {options.Nodes} ports below {IPEndPoint.MaxPort + 1}");

        var system = ActorSystem.Create("localnet", NodeAkkaConfig.Create(options.Log.Levels).WithFallback(P2PReferenceConfig.Load()));
        var keys = new List<NodeKey>();
        var books = Directory.CreateTempSubdirectory("tmactors-localnet-").FullName;
        try
        {
            var logs = LogSinks.Start(system, stderr, hold: options.Live, options.Log);
            var clock = Stopwatch.StartNew();
            var nodes = new List<LocalNode>();
            try
            {
                var seedKey = NodeKey.Generate();
                keys.Add(seedKey);
                var seed = await StartSeed(system, options, seedKey, books, cancellation);
                var seedAddress = $"{seed.Id.Hex}@127.0.0.1:{((IPEndPoint)seed.ListenAddress).Port}";
                for (var i = 0; i < options.Nodes; i++)
                {
                    var key = NodeKey.Generate();
                    keys.Add(key);
                    nodes.Add(await StartNode(system, options, i, key, seedAddress, books, clock, cancellation));
                }
            }
            catch (Exception e) when (e is IOException or P2PConfigurationException or AskTimeoutException or OperationCanceledException)
            {
                stderr.WriteLine($"tmactors localnet: {(keys.Count <= 1 ? "the seed" : $"node{nodes.Count}")} did not start: {e.Message}");
                await Shutdown(system, logs);
                return Cli.Failure;
            }

            var view = new LiveView(stdout, options.Live);
            // The run lasts --duration once every node is up (starting them can take a while on a loaded machine);
            // the mesh time in the summary still counts from the first node's start.
            var runEnds = clock.Elapsed + options.Duration;
            using (var ticks = new PeriodicTimer(TimeSpan.FromSeconds(1)))
            {
                while (clock.Elapsed < runEnds && !cancellation.IsCancellationRequested)
                {
                    var left = runEnds - clock.Elapsed;
                    if (left > TimeSpan.FromSeconds(1))
                        await ticks.WaitForNextTickAsync(cancellation).AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
                    else if (left > TimeSpan.Zero)
                        await Task.Delay(left, cancellation).ContinueWith(_ => { }, TaskScheduler.Default);
                    if (options.Live)
                        view.Render(nodes, await Query(nodes), clock.Elapsed);
                }
            }

            // Quiet first, so that the counts below are final rather than a snapshot of a moving target.
            await Task.WhenAll(nodes.Select(n => n.Gossip.Ask<Done>(GossipReactor.Quiesce.Instance, options.StartTimeout)));
            var stats = await Query(nodes);
            if (options.Live)
                view.Render(nodes, stats, clock.Elapsed);
            var counts = await Shutdown(system, logs);
            return Summarise(nodes, stats, counts, stdout, stderr);
        }
        finally
        {
            await system.Terminate();
            foreach (var key in keys)
                key.Dispose();
            try
            {
                Directory.Delete(books, recursive: true);
            }
            catch (IOException)
            {
                // Throw-away books in the temp directory: leaving them is harmless.
            }
        }
    }

    private sealed record LocalNode(string Moniker, RunningSwitch Switch, IActorRef Gossip)
    {
        public int Port => ((IPEndPoint)Switch.ListenAddress).Port;
    }

    /// <summary>The seed: PEX alone, in seed mode; the nodes know only its address.</summary>
    private static async Task<RunningSwitch> StartSeed(ActorSystem system, Options options, NodeKey key, string books,
        CancellationToken cancellation)
    {
        var config = NodeConfig(options, "seed", options.BasePort == 0 ? 0 : options.BasePort + options.Nodes, seeds: "", seedMode: true,
            Path.Combine(books, "seed.json"));
        var running = await StartSwitch(system, "seed", key, config, [], options, cancellation);
        return running;
    }

    private static async Task<LocalNode> StartNode(ActorSystem system, Options options, int index, NodeKey key, string seed,
        string books, Stopwatch clock, CancellationToken cancellation)
    {
        var moniker = $"node{index}";
        var port = options.BasePort == 0 ? 0 : options.BasePort + index;
        var config = NodeConfig(options, moniker, port, seed, seedMode: false, Path.Combine(books, moniker + ".json"));
        var gossip = system.ActorOf(GossipReactor.Props(moniker, options.Nodes - 1, options.GossipInterval, clock), $"{moniker}-gossip");
        var running = await StartSwitch(system, moniker, key, config, [new ReactorRegistration("gossip", gossip, [GossipReactor.Channel])],
            options, cancellation);
        return new LocalNode(moniker, running, gossip);
    }

    // Through P2PSettings like any node's configuration, so localnet runs what `start` would validate.
    private static Config NodeConfig(Options options, string moniker, int port, string seeds, bool seedMode, string book) =>
        ConfigurationFactory.ParseString(NodeHocon(options, moniker, port, seeds, seedMode, Runtime.NodeConfig.Quote(book))).WithFallback(Runtime.NodeConfig.Defaults());

    private static string NodeHocon(Options options, string moniker, int port, string seeds, bool seedMode, string quotedBook) => $$"""
            tendermint.p2p {
              moniker = "{{moniker}}"
              network = "localnet"
              laddr = "tcp://127.0.0.1:{{port}}"
              seeds = "{{seeds}}"
              pex = on
              seed-mode = {{(seedMode ? "on" : "off")}}
              addr-book-file = {{quotedBook}}
              # Loopback addresses are not routable: a strict book would refuse them all.
              addr-book-strict = off
              # Every node connects from 127.0.0.1: one IP for the duplicate-IP rule and the per-IP attempt limit.
              allow-duplicate-ip = on
              max-incoming-connection-attempts = 100000
              # Room for a full mesh of up to {{MaxNodes}} nodes.
              max-num-outbound-peers = {{options.Nodes}}
              max-num-inbound-peers = {{options.Nodes + 1}}
              # Rounds often enough to close any gap the seed's answers leave within a short run.
              ensure-peers-period = {{(int)options.EnsurePeersPeriod.TotalMilliseconds}}ms
              # Nothing to spread out on loopback, and the mesh should form at once.
              dial-start-jitter = 0s
            }
            """;

    private static async Task<RunningSwitch> StartSwitch(ActorSystem system, string moniker, NodeKey key, Config config,
        IReadOnlyList<ReactorRegistration> reactors, Options options, CancellationToken cancellation)
    {
        var p2p = P2PSettings.Create(config);
        var pex = new Hosting.PexOptions(Pex.PexReactor.Settings.From(p2p), new Pex.AddrBook.Settings(p2p.AddrBookFile)
        {
            Strict = p2p.AddrBookStrict,
            SaveInterval = p2p.AddrBookSaveInterval,
        });
        var running = await NodeSwitch.Start(system, moniker, key, Switching.Switch.Settings.From(p2p), reactors, options.StartTimeout, cancellation, pex: pex);
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, $"stop-peers-{moniker}", async () =>
        {
            await NodeSwitch.StopPolitely(running.Switch, TimeSpan.FromSeconds(3));
            return Done.Instance;
        });
        return running;
    }

    private static Task<GossipReactor.Stats[]> Query(IReadOnlyList<LocalNode> nodes) =>
        Task.WhenAll(nodes.Select(n => n.Gossip.Ask<GossipReactor.Stats>(GossipReactor.GetStats.Instance, TimeSpan.FromSeconds(5))));

    /// <summary>Prints held logs, counts them, then shuts the system down through CoordinatedShutdown (peers stopped politely).</summary>
    private static async Task<LogSink.Counts> Shutdown(ActorSystem system, IActorRef logs)
    {
        var timeout = TimeSpan.FromSeconds(5);
        await logs.Ask<Done>(LogSink.Release.Instance, timeout);
        var counts = await logs.Ask<LogSink.Counts>(LogSink.GetCounts.Instance, timeout);
        logs.Tell(LogSink.ErrorsOnly.Instance);
        await CoordinatedShutdown.Get(system).Run(RunEnded.Instance);
        return counts;
    }

    private sealed class RunEnded : CoordinatedShutdown.Reason
    {
        public static readonly RunEnded Instance = new();

        public override int ExitCode => 0;
    }

    private static int Summarise(IReadOnlyList<LocalNode> nodes, GossipReactor.Stats[] stats, LogSink.Counts logs,
        TextWriter stdout, TextWriter stderr)
    {
        var failures = new List<string>();
        for (var a = 0; a < nodes.Count; a++)
        for (var b = 0; b < nodes.Count; b++)
        {
            if (a == b) continue;
            if (!stats[a].EverConnected.Contains(nodes[b].Switch.Id))
                failures.Add($"{nodes[a].Moniker} never had {nodes[b].Moniker} as a peer");
            else if (stats[a].ReceivedFrom.GetValueOrDefault(nodes[b].Switch.Id) == 0)
                failures.Add($"{nodes[a].Moniker} heard nothing from {nodes[b].Moniker}");
        }
        var mesh = stats.All(s => s.FullSince is not null)
            ? $"full mesh reached in {stats.Max(s => s.FullSince!.Value).TotalSeconds.ToString("0.0##", CultureInfo.InvariantCulture)} s"
            : "full mesh not reached";
        var exchanged = stats.Sum(s => s.Received);
        var verdict = failures.Count == 0 ? "every node heard from every other" : $"{failures.Count} of {nodes.Count * (nodes.Count - 1)} pairs failed";
        var logNote = logs.Errors + logs.Warnings == 0 ? "" : $", {logs.Errors} errors and {logs.Warnings} warnings logged";
        stdout.WriteLine($"localnet: {nodes.Count} nodes and a seed, {mesh} through PEX, {exchanged} messages exchanged, {verdict}{logNote}");
        if (failures.Count == 0)
            return 0;
        stderr.WriteLine($"tmactors localnet: failed pairs: {string.Join("; ", failures)}");
        return Cli.Failure;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"tmactors localnet: {message}");
        return Cli.Failure;
    }

    /// <summary>The per-node table, redrawn in place (ANSI cursor movement) while stdout is a terminal.</summary>
    private sealed class LiveView(TextWriter stdout, bool enabled)
    {
        private int _drawnLines;

        public void Render(IReadOnlyList<LocalNode> nodes, GossipReactor.Stats[] stats, TimeSpan elapsed)
        {
            if (!enabled) return;
            if (_drawnLines > 0)
                stdout.Write($"\u001b[{_drawnLines}F");
            var lines = new List<string>
            {
                $"localnet: {nodes.Count} nodes, {elapsed.TotalSeconds:0} s",
                "node     id        port   peers  sent     received",
            };
            for (var i = 0; i < nodes.Count; i++)
            {
                var s = stats[i];
                lines.Add($"{nodes[i].Moniker,-8} {nodes[i].Switch.Id.Hex[..8]}  {nodes[i].Port,-6} {s.Connected,2}/{nodes.Count - 1,-3} {s.Sent,-8} {s.Received}");
            }
            foreach (var line in lines)
                stdout.Write($"\u001b[2K{line}\n");
            stdout.Flush();
            _drawnLines = lines.Count;
        }
    }
}
