using System.CommandLine;
using System.Globalization;
using Akka.Actor;
using TendermintActors.Hosting;
using TendermintActors.Node.Bench;
using TendermintActors.Node.Crawl;
using TendermintActors.Node.Runtime;
using TendermintActors.Pex;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Node.Commands;

/// <summary>
/// <c>tmactors crawl</c>: walks a network through PEX from its seeds and reports every node found: ID, address,
/// moniker, version, network, channels, whether it could be reached and how it was learnt. It dials each node once,
/// asks it for addresses once, and lets it go; it does not listen and hands out no addresses. Exit code 0 when the
/// walk ran (finished, or stopped by <c>--duration</c>), 1 when no seed could be reached.
/// </summary>
internal static class CrawlCommand
{
    internal sealed record Options(IReadOnlyList<NetAddress> Seeds, string Network, TimeSpan Duration, bool Json)
    {
        public int Concurrency { get; init; } = 16;
        public TimeSpan NodeTimeout { get; init; } = TimeSpan.FromSeconds(10);
        public NodeHome? Home { get; init; }
        public bool Progress { get; init; }
        /// <summary><c>--log_level</c> (errors only by default: failed dials are the walk's daily bread) and <c>--log_format</c>.</summary>
        public LogOutput Log { get; init; } = DefaultLog;
    }

    private static readonly LogOutput DefaultLog = LogOutput.Default with { Levels = LogLevels.All(Akka.Event.LogLevel.ErrorLevel) };

    public static Command Create(Option<string> home)
    {
        var seeds = new Option<string>("--seeds") { Description = "Comma-separated ID@HOST:PORT of the network's seeds (or any nodes)", HelpName = "LIST", Required = true };
        var network = new Option<string>("--network") { Description = "The network's chain ID (nodes of other networks refuse us)", HelpName = "NAME", Required = true };
        var duration = new Option<string>("--duration") { Description = "Stop the walk after this long, e.g. 60s, 5m", HelpName = "DURATION", DefaultValueFactory = _ => "60s" };
        var json = new Option<bool>("--json") { Description = "One JSON object per node on stdout, and nothing else there" };
        var concurrency = new Option<int>("--concurrency") { Description = "Nodes dialled at once", HelpName = "N", DefaultValueFactory = _ => 16 };
        var nodeTimeout = new Option<string>("--node-timeout") { Description = "How long one node gets to connect and answer", HelpName = "DURATION", DefaultValueFactory = _ => "10s" };
        var (logLevel, logFormat) = LogFlags.Create("error");
        var command = new Command("crawl", "Walk a network through PEX from its seeds and report every node found");
        foreach (var option in new Option[] { seeds, network, duration, json, concurrency, nodeTimeout, logLevel, logFormat })
            command.Options.Add(option);
        command.SetAction(async (parse, cancellation) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            IReadOnlyList<NetAddress> seedList;
            try
            {
                seedList = NetAddress.ParseList(parse.GetValue(seeds));
            }
            catch (FormatException e)
            {
                return Fail(stderr, $"--seeds: {e.Message}");
            }
            if (seedList.Count == 0)
                return Fail(stderr, "--seeds: give at least one ID@HOST:PORT");
            if (!Durations.TryParse(parse.GetValue(duration), out var runFor, out var error))
                return Fail(stderr, $"--duration {error}");
            if (!Durations.TryParse(parse.GetValue(nodeTimeout), out var perNode, out error))
                return Fail(stderr, $"--node-timeout {error}");
            if (!LogFlags.TryParse(parse, logLevel, logFormat, out var log, out var logError))
                return Fail(stderr, logError);
            var n = parse.GetValue(concurrency);
            if (n is < 1 or > 1000)
                return Fail(stderr, $"--concurrency {n} must be between 1 and 1000");
            var homeDir = parse.GetResult(home) is { Implicit: false } ? NodeHome.At(parse.GetValue(home)!) : null;
            var progress = ReferenceEquals(parse.InvocationConfiguration.Output, Console.Out) && !Console.IsOutputRedirected && !parse.GetValue(json);
            using var signals = new ShutdownSignals(cancellation);
            return await RunAsync(new Options(seedList, parse.GetValue(network)!, runFor, parse.GetValue(json))
            {
                Concurrency = n, NodeTimeout = perNode, Home = homeDir, Progress = progress, Log = log,
            }, parse.InvocationConfiguration.Output, stderr, signals.Token);
        });
        return command;
    }

    public static async Task<int> RunAsync(Options options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var key = NodeKeys.ForTool(options.Home);
        var system = ActorSystem.Create("tmactors-crawl", NodeAkkaConfig.Create(options.Log.Levels));
        try
        {
            LogSinks.Start(system, TextWriter.Synchronized(stderr), hold: false, options.Log);
            var crawler = system.ActorOf(CrawlerReactor.Props(options.Seeds), "crawler");
            var settings = new Switch.Settings
            {
                Moniker = "tmactors-crawler",
                Network = options.Network,
                ListenHost = null, // dial only: nothing to advertise, nothing for others' books
                MaxOutboundPeers = options.Concurrency,
                AllowDuplicateIp = true,
                DialStartJitter = TimeSpan.Zero,
                DialTimeout = TimeSpan.FromSeconds(Math.Min(3, options.NodeTimeout.TotalSeconds)),
                HandshakeTimeout = options.NodeTimeout,
            };
            var sw = (await system.TendermintP2P().StartNode(key, [new ReactorRegistration("crawler", crawler, [PexReactor.Descriptor])], "p2p",
                settings, new TcpTransport())).Switch;
            crawler.Tell(new CrawlerReactor.Start(sw, options.Concurrency, options.NodeTimeout));

            var result = crawler.Ask<CrawlerReactor.Result>(CrawlerReactor.AwaitResult.Instance, Timeout.InfiniteTimeSpan, cancellation);
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                deadline.CancelAfter(options.Duration);
                while (!result.IsCompleted && !deadline.IsCancellationRequested)
                {
                    await Task.WhenAny(result, Task.Delay(TimeSpan.FromSeconds(1), deadline.Token)).ContinueWith(_ => { }, TaskScheduler.Default);
                    if (options.Progress && !result.IsCompleted)
                    {
                        var p = await crawler.Ask<CrawlerReactor.Progress>(CrawlerReactor.GetProgress.Instance, TimeSpan.FromSeconds(5));
                        stderr.Write($"\rcrawl: {p.Found} found, {p.Reachable} reachable, {p.InFlight} in progress, {p.Pending} waiting   ");
                    }
                }
            }
            if (options.Progress) stderr.Write("\r\u001b[2K");
            var report = result.IsCompletedSuccessfully
                ? result.Result
                : await crawler.Ask<CrawlerReactor.Result>(CrawlerReactor.StopWalk.Instance, TimeSpan.FromSeconds(10));
            await NodeSwitch.StopPolitely(sw, TimeSpan.FromSeconds(3));
            return Report(report, options, stdout, stderr);
        }
        finally
        {
            await system.Terminate();
            key.Dispose();
        }
    }

    private static int Report(CrawlerReactor.Result result, Options options, TextWriter stdout, TextWriter stderr)
    {
        var nodes = result.Nodes.OrderBy(n => n.IsSeed ? 0 : 1).ThenBy(n => n.Reachable == true ? 0 : 1).ThenBy(n => n.Address.Id.Hex).ToList();
        foreach (var node in nodes)
            stdout.WriteLine(options.Json ? ToJson(node) : ToText(node));
        var reachable = nodes.Count(n => n.Reachable == true);
        var walk = result.Finished ? "walk finished" : $"stopped after {options.Duration.TotalSeconds:0.###} s with {result.NotTried} not tried";
        var summary = $"crawl: {nodes.Count} nodes found, {reachable} reachable, {nodes.Count - reachable} not; {walk}";
        (options.Json ? stderr : stdout).WriteLine(summary);
        if (nodes.Any(n => n.IsSeed && n.Reachable == true))
            return 0;
        stderr.WriteLine("tmactors crawl: no seed could be reached: " +
                         string.Join("; ", nodes.Where(n => n.IsSeed).Select(n => $"{n.Address}: {n.Error ?? "not tried"}")));
        return Cli.Failure;
    }

    private static string ToText(NetworkWalk.NodeRecord node)
    {
        var info = node.NodeInfo;
        var state = node.Reachable switch { true => "reachable", false => "unreachable", null => "not tried" };
        var details = info is null
            ? ""
            : $" moniker={info.Moniker} version={info.Version} network={info.Network} channels={Convert.ToHexStringLower(info.Channels.AsSpan())}";
        var shared = node.AddressesShared is { } n ? $" shared={n}" : "";
        var error = node.Error is { } e ? $" error=\"{e}\"" : "";
        return $"{node.Address.Id} {node.Address.HostPort} {state}{details} learnt-from={node.LearntFrom}{shared}{error}";
    }

    private static string ToJson(NetworkWalk.NodeRecord node) => BenchReport.Json(w =>
    {
        w.WriteString("id", node.Address.Id.Hex);
        w.WriteString("address", node.Address.HostPort);
        if (node.Reachable is { } reachable) w.WriteBoolean("reachable", reachable); else w.WriteNull("reachable");
        w.WriteString("learnt_from", node.LearntFrom);
        if (node.NodeInfo is { } info)
        {
            w.WriteString("moniker", info.Moniker);
            w.WriteString("version", info.Version);
            w.WriteString("network", info.Network);
            w.WriteString("listen_addr", info.ListenAddr);
            w.WriteStartArray("channels");
            foreach (var channel in info.Channels) w.WriteStringValue("0x" + channel.ToString("x2", CultureInfo.InvariantCulture));
            w.WriteEndArray();
        }
        if (node.AddressesShared is { } n) w.WriteNumber("addresses_shared", n);
        if (node.Error is { } error) w.WriteString("error", error);
    });

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"tmactors crawl: {message}");
        return Cli.Failure;
    }
}
