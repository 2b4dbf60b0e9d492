using System.CommandLine;
using System.Globalization;
using System.Net;
using Akka;
using Akka.Actor;
using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Node.Diagnostics;
using TendermintActors.Node.Rpc;
using TendermintActors.Node.Runtime;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using TendermintActors.Hosting;
using TendermintActors.Switching;

namespace TendermintActors.Node.Commands;

/// <summary>
/// <c>tmactors start</c>: runs a node from its home (node.conf over the embedded reference, CometBFT-style flags and
/// <c>--set</c> overrides on top; see <see cref="NodeConfig"/> for the precedence) until Ctrl-C or SIGTERM, then
/// shuts down through CoordinatedShutdown, stopping its peers politely.
/// </summary>
internal static class StartCommand
{
    /// <summary>What <c>start</c> was asked for; null flags leave the configuration's value alone.</summary>
    internal sealed record Options(NodeHome Home)
    {
        public string? Moniker { get; init; }
        public string? Network { get; init; }
        public string? ListenAddress { get; init; }
        public string? ExternalAddress { get; init; }
        public string? Seeds { get; init; }
        public string? PersistentPeers { get; init; }
        public string? UnconditionalPeerIds { get; init; }
        public string? PrivatePeerIds { get; init; }
        public bool? Pex { get; init; }
        public bool? SeedMode { get; init; }
        public IReadOnlyList<string> Sets { get; init; } = [];
        public byte? EchoChannel { get; init; }
        /// <summary><c>--sink-channel</c>: the channels of the counting reactor (none: no sink).</summary>
        public IReadOnlyList<byte> SinkChannels { get; init; } = [];
        /// <summary>CometBFT's <c>rpc.laddr</c> (over <c>tendermint.rpc.laddr</c>); port 0 picks a free one, empty turns the RPC server off.</summary>
        public string? RpcListenAddress { get; init; }
        /// <summary>CometBFT's <c>rpc.unsafe</c> (over <c>tendermint.rpc.unsafe</c>): serve <c>/dial_peers</c> and <c>/dial_seeds</c>.</summary>
        public bool? RpcUnsafe { get; init; }
        public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);
        /// <summary><c>--log_level</c> and <c>--log_format</c>.</summary>
        public LogOutput Log { get; init; } = LogOutput.Default;
    }

    /// <summary>A node that failed to start, with the message for stderr (naming the key, file or flag at fault).</summary>
    internal sealed class StartFailedException(string message, Exception? inner = null) : Exception(message, inner);

    /// <summary>
    /// A started node: its system, switch and bound address, for the command and for tests. Disposing shuts the
    /// system down through CoordinatedShutdown.
    /// </summary>
    internal sealed class RunningNode(ActorSystem system, NodeKey key, RunningSwitch sw, P2PSettings settings, string addrBookFile,
        IActorRef? sink, NodeMetrics metrics, RpcServer.Running? rpc, HomeLock homeLock) : IAsyncDisposable
    {
        public ActorSystem System { get; } = system;
        public IActorRef Switch => sw.Switch;
        /// <summary>The node root (<see cref="TendermintActors.Hosting.P2PNode"/>): it stops when one of its actors fails.</summary>
        public IActorRef Node => sw.Node;
        public NodeId Id => sw.Id;
        public EndPoint ListenAddress => sw.ListenAddress;
        public P2PSettings Settings { get; } = settings;
        /// <summary>Resolved against the home; PEX keeps the address book there.</summary>
        public string AddrBookFile { get; } = addrBookFile;
        /// <summary>The PEX reactor and the address book actor (null with pex = off).</summary>
        public IActorRef? Pex => sw.Pex;
        public IActorRef? AddrBook => sw.AddrBook;
        /// <summary>The <c>--sink-channel</c> reactor, answering <see cref="SinkReactor.GetCounts"/>.</summary>
        public IActorRef? Sink { get; } = sink;
        /// <summary>The bound RPC server (its <see cref="RpcServer.Running.Url"/> for clients), null when turned off.</summary>
        public RpcServer.Running? Rpc { get; } = rpc;
        /// <summary>Whether the node exports its metrics (it does when it serves RPC, whose /metrics they are).</summary>
        public bool ExportsMetrics => metrics.IsExporting;

        /// <summary>"id@host:port" for another node's persistent-peers.</summary>
        public string PeerAddress => $"{Id.Hex}@{NetAddress.FormatHostPort(((IPEndPoint)ListenAddress).Address.ToString(), ((IPEndPoint)ListenAddress).Port)}";

        /// <summary>
        /// Completes when <paramref name="cancellation"/> fires, the system stops, or the node root stops on its own,
        /// which it does only when one of its actors failed (it logged which and why): true then.
        /// </summary>
        public async Task<bool> WaitAsync(CancellationToken cancellation)
        {
            var nodeGone = Node.WatchAsync(CancellationToken.None);
            var first = await Task.WhenAny(System.WhenTerminated, nodeGone, Task.Delay(Timeout.Infinite, cancellation));
            return first == nodeGone && CoordinatedShutdown.Get(System).ShutdownReason is null;
        }

        public async Task StopAsync()
        {
            await CoordinatedShutdown.Get(System).Run(NodeStopped.Instance);
            await System.WhenTerminated;
            // After the switch has stopped: its peers record into these instruments until then.
            metrics.Dispose();
            key.Dispose();
            // Last: the address book was saved as its actor stopped, and the next node on this home may write it now.
            homeLock.Dispose();
        }

        public async ValueTask DisposeAsync() => await StopAsync();
    }

    private sealed class NodeStopped : CoordinatedShutdown.Reason
    {
        public static readonly NodeStopped Instance = new();

        public override int ExitCode => 0;
    }

    public static Command Create(Option<string> home)
    {
        var flags = new StartFlags(home);
        var command = flags.AddTo(new Command("start", "Run the node until Ctrl-C or SIGTERM"));
        command.SetAction(async (parse, cancellation) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (!flags.TryRead(parse, out var options, out var error))
                return Fail(stderr, error!);
            using var signals = new ShutdownSignals(cancellation);
            return await RunAsync(options, parse.InvocationConfiguration.Output, stderr, signals.Token);
        });
        return command;
    }

    /// <summary>Starts the node, runs it until <paramref name="cancellation"/> fires or the system stops, then shuts it down.</summary>
    public static async Task<int> RunAsync(Options options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        RunningNode node;
        try
        {
            node = await StartAsync(options, stdout, stderr, cancellation);
        }
        catch (StartFailedException e)
        {
            // One ERROR line in the operator's log format, no stack trace.
            stderr.WriteLine(LogLineFormatter.Format(options.Log.Format,
                new LogEntry(DateTime.UtcNow, Akka.Event.LogLevel.ErrorLevel, LogModules.Main, e.Message)));
            return Cli.Failure;
        }
        var failed = await node.WaitAsync(cancellation);
        await node.StopAsync();
        if (failed)
        {
            stderr.WriteLine(LogLineFormatter.Format(options.Log.Format,
                new LogEntry(DateTime.UtcNow, Akka.Event.LogLevel.ErrorLevel, LogModules.Main, "the P2P node stopped; exiting")));
            return Cli.Failure;
        }
        stdout.WriteLine("Stopped.");
        return 0;
    }

    /// <summary>Loads the configuration and key, starts the system and the switch, and prints the node's ID and address.</summary>
    public static async Task<RunningNode> StartAsync(Options options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var home = options.Home;
        var config = LoadConfig(options);
        P2PSettings p2p;
        NodeConfig.RpcSettings rpcSettings;
        try
        {
            p2p = P2PSettings.Create(config);
            rpcSettings = NodeConfig.RpcSettings.Create(config);
        }
        catch (P2PConfigurationException e)
        {
            throw new StartFailedException(e.Message, e);
        }
        CheckReactors(options, p2p);

        var keyFile = Resolve(home, p2p.NodeKeyFile);
        if (!NodeKeys.TryLoad(keyFile, out var key, out var keyError))
            throw new StartFailedException(keyError);
        var keyWarning = NodeKeys.PermissionWarning(keyFile);

        // One node per home, and its state writable, before anything starts or writes (Runtime/HomeLock.cs).
        if (!HomeLock.TryAcquire(home.Root, out var homeLock, out var lockError))
        {
            key.Dispose();
            throw new StartFailedException(lockError);
        }
        var notWritable = WritableDirectory.Check(Path.GetDirectoryName(keyFile)!, "the node key's directory");
        if (notWritable is null && p2p.Pex)
            notWritable = WritableDirectory.Check(Path.GetDirectoryName(Resolve(home, p2p.AddrBookFile))!, "the address book's directory");
        if (notWritable is not null)
        {
            homeLock.Dispose();
            key.Dispose();
            throw new StartFailedException(notWritable);
        }

        var metrics = new NodeMetrics(p2p);
        var system = ActorSystem.Create("tmactors", NodeAkkaConfig.Create(options.Log.Levels, config));
        // Held until the node has started: a node that does not start says why in one line (see LogSink.Discard).
        var logs = LogSinks.Start(system, TextWriter.Synchronized(stderr), hold: true, options.Log);
        RpcServer.Running? rpc = null;
        var rpcTarget = new TaskCompletionSource<RpcServer.Target>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var reactors = new List<ReactorRegistration>();
            if (options.EchoChannel is { } echo)
                reactors.Add(new ReactorRegistration("echo", system.ActorOf(EchoReactor.Props(), "echo"), [EchoReactor.Channel(echo)]));
            IActorRef? sink = null;
            if (options.SinkChannels.Count > 0)
            {
                sink = system.ActorOf(SinkReactor.Props(), "sink");
                reactors.Add(new ReactorRegistration("sink", sink, [.. options.SinkChannels.Select(SinkReactor.Channel)]));
            }
            var pex = system.TendermintP2P().PexFromConfig(home.Root);
            // RPC binds first, so that the node info tells peers the address it serves (a port 0 resolved).
            if (rpcSettings.ListenAddress.Length > 0)
                rpc = await RpcServer.Start(new RpcServer.Settings(rpcSettings.ListenAddress, rpcSettings.Unsafe, options.StartTimeout),
                    rpcTarget.Task, metrics.Exporter, cancellation);
            var switchSettings = Switch.Settings.From(p2p) with { RpcAddress = rpc?.Address ?? p2p.RpcAddress };
            var sw = await NodeSwitch.Start(system, "p2p", key, switchSettings, reactors, options.StartTimeout, cancellation, metrics.P2P, pex,
                p2p.CreateTransport());
            rpcTarget.SetResult(new RpcServer.Target(sw.Switch, sw.AddrBook));
            // In the log's format, so that a JSON log stays one object per line.
            void LogMain(Akka.Event.LogLevel level, string text)
            {
                if (options.Log.Levels.IsEnabled(LogModules.Main, level))
                    stderr.WriteLine(LogLineFormatter.Format(options.Log.Format, new LogEntry(DateTime.UtcNow, level, LogModules.Main, text)));
            }
            foreach (var warning in keyWarning is null ? p2p.Warnings() : [keyWarning, .. p2p.Warnings()])
                LogMain(Akka.Event.LogLevel.WarningLevel, warning);
            if (NativeHeap.AtStart is { } heap)
                LogMain(Akka.Event.LogLevel.DebugLevel, NativeHeap.Describe(heap));
            if (RuntimeSettings.AtStart is { } runtime)
                LogMain(runtime == RuntimeSettings.Outcome.Failed ? Akka.Event.LogLevel.WarningLevel : Akka.Event.LogLevel.DebugLevel,
                    RuntimeSettings.Describe(runtime, RuntimeSettings.FailedWith));
            if (sw.PexStart?.Error is { } pexError)
                throw new IOException(pexError);
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "stop-peers", async () =>
            {
                await NodeSwitch.StopPolitely(sw.Switch, TimeSpan.FromSeconds(5));
                return Done.Instance;
            });
            if (rpc is { } served)
            {
                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceUnbind, "stop-rpc", async () =>
                {
                    await served.StopAsync();
                    return Done.Instance;
                });
            }
            await logs.Ask<Done>(LogSink.Release.Instance, options.StartTimeout);
            stdout.WriteLine($"Node ID: {sw.Id.Hex}");
            stdout.WriteLine($"Listening on: {sw.ListenAddress}");
            if (rpc is not null)
                stdout.WriteLine($"RPC on: {rpc.Address}");
            stdout.Flush();
            return new RunningNode(system, key, sw, p2p, Resolve(home, p2p.AddrBookFile), sink, metrics, rpc, homeLock);
        }
        catch (Exception e) when (e is IOException or AskTimeoutException or OperationCanceledException or ArgumentException)
        {
            // ArgumentException: settings the switch refuses (Switch.Props), e.g. a node info peers would refuse.
            rpcTarget.TrySetCanceled();
            if (rpc is not null) await rpc.StopAsync();
            await logs.Ask<Done>(LogSink.Discard.Instance, options.StartTimeout);
            await system.Terminate();
            metrics.Dispose();
            key.Dispose();
            homeLock.Dispose();
            throw new StartFailedException($"the node did not start: {e.Message}", e);
        }
    }

    /// <summary>The reactors asked for fit the settings: their channels differ, and there is at least one.</summary>
    internal static void CheckReactors(Options options, P2PSettings p2p)
    {
        if (options.EchoChannel is { } ec && options.SinkChannels.Contains(ec))
            throw new StartFailedException($"--echo-channel and --sink-channel both have 0x{ec:x2}; give each its own channel");
        if (options.SinkChannels.GroupBy(c => c).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new StartFailedException($"--sink-channel has 0x{twice.Key:x2} twice");

        // A peer connection needs at least one channel: PEX's (0x00), or a diagnostics reactor's.
        if (!p2p.Pex && options.EchoChannel is null && options.SinkChannels.Count == 0)
            throw new StartFailedException($"no reactor to run: {P2PSettings.Section}.pex = off and no --echo-channel or --sink-channel " +
                                           "(a node without channels is refused by every peer)");
        if (p2p.Pex && (options.EchoChannel == PexConstants.Channel || options.SinkChannels.Contains(PexConstants.Channel)))
            throw new StartFailedException($"channel 0x00 belongs to PEX; give the diagnostics reactor another channel or set {P2PSettings.Section}.pex = off");
    }

    /// <summary>
    /// node.conf, the flags and <c>--set</c> over the reference, in <see cref="NodeConfig"/>'s order. Malformed HOCON
    /// and keys the reference does not have (under <c>tendermint.p2p</c> and <c>tendermint.rpc</c>) fail here, naming
    /// the file and line or the <c>--set</c> they came from.
    /// </summary>
    internal static Config LoadConfig(Options options)
    {
        var file = options.Home.NodeConfFile;
        string text;
        Config nodeConf;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StartFailedException($"'{file}' does not exist (create the home with 'tmactors init --home {options.Home.Root}')");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartFailedException($"cannot read '{file}': {e.Message}");
        }
        if (HoconSyntax.Check(text) is { } fault)
            throw new StartFailedException($"'{file}' line {fault.Line} is not valid HOCON: {fault.Problem}");
        try
        {
            nodeConf = HoconSyntax.Parse(text);
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or ArgumentException)
        {
            throw new StartFailedException($"'{file}' is not valid HOCON: {e.Message}");
        }
        if (NodeConfig.UnknownKeys(nodeConf) is [_, ..] unknown)
            throw new StartFailedException(string.Join("\n", unknown.Select(u =>
                $"'{file}'{(NodeConfig.LineOf(text, u.Key) is { } line ? $" line {line}" : "")}: {u.Key}: {u.Problem}")));

        var sets = new List<Config>();
        foreach (var assignment in options.Sets.Reverse())
        {
            if (!NodeConfig.TryParseSet(assignment, out var one, out var error))
                throw new StartFailedException(error!);
            sets.Add(one);
        }
        return NodeConfig.Layer([.. sets, Flags(options), nodeConf, NodeConfig.Defaults()]);
    }

    private static Config Flags(Options options)
    {
        var lines = new List<string>();
        void Set(string key, string? value)
        {
            if (value is not null) lines.Add($"{P2PSettings.Section}.{key} = {NodeConfig.Quote(value)}");
        }
        void Switch(string key, bool? value)
        {
            if (value is { } on) lines.Add($"{P2PSettings.Section}.{key} = {(on ? "on" : "off")}");
        }
        Set("moniker", options.Moniker);
        Set("network", options.Network);
        Set("laddr", options.ListenAddress);
        Set("external-address", options.ExternalAddress);
        Set("seeds", options.Seeds);
        Set("persistent-peers", options.PersistentPeers);
        Set("unconditional-peer-ids", options.UnconditionalPeerIds);
        Set("private-peer-ids", options.PrivatePeerIds);
        Switch("pex", options.Pex);
        Switch("seed-mode", options.SeedMode);
        if (options.RpcListenAddress is { } rpcLaddr) lines.Add($"{NodeConfig.RpcSection}.laddr = {NodeConfig.Quote(rpcLaddr)}");
        if (options.RpcUnsafe is { } rpcUnsafe) lines.Add($"{NodeConfig.RpcSection}.unsafe = {(rpcUnsafe ? "on" : "off")}");
        return lines.Count == 0 ? Config.Empty : ConfigurationFactory.ParseString(string.Join("\n", lines));
    }

    internal static string Resolve(NodeHome home, string path) => Path.IsPathRooted(path) ? path : Path.Combine(home.Root, path);

    /// <summary>Comma-separated channel IDs (<see cref="TryParseChannel"/> each); false at the first that is not one, given in <paramref name="bad"/>.</summary>
    internal static bool TryParseChannels(string text, out IReadOnlyList<byte> channels, out string? bad)
    {
        var list = new List<byte>();
        channels = list;
        foreach (var part in text.Split(','))
        {
            if (!TryParseChannel(part, out var channel))
            {
                bad = part.Trim();
                return false;
            }
            list.Add(channel!.Value);
        }
        bad = null;
        return true;
    }

    internal static bool TryParseChannel(string text, out byte? channel)
    {
        channel = null;
        var t = text.Trim();
        var ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? byte.TryParse(t[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b)
            : byte.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out b);
        if (ok) channel = b;
        return ok;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"tmactors start: {message}");
        return Cli.Failure;
    }
}
