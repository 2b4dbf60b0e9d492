using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Node.Runtime;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Transport;

namespace TendermintActors.Node.Bench;

/// <summary>
/// <c>bench soak</c>: a node with PEX under constant churn for a long time. <see cref="Options.Peers"/> slots each run
/// one connection after another to a <see cref="SoakTarget"/> (a child process): mostly well-behaved peers that
/// exchange sequence-numbered messages on the echo and sink channels and one PEX request for a random lifetime, then
/// leave; a <see cref="Options.HostileShare"/> of hostile ones (<see cref="SoakScenarios.Hostile"/>) that the target
/// must hang up on. Every <see cref="Options.ReportEvery"/> it reports the target's peers, actors, descriptors, memory,
/// message rate and stops by reason; at the end it fits a line through the post-warm-up reports and says PASS or FAIL.
/// </summary>
internal static class Soak
{
    internal sealed record Options(string Network, int Peers, TimeSpan Duration, TimeSpan ReportEvery, TimeSpan Timeout)
    {
        /// <summary>Reports before this are left out of the trends; null: a fifth of <see cref="Duration"/>.</summary>
        public TimeSpan? Warmup { get; init; }
        /// <summary>The share of connections that are hostile, spread evenly over the hostile scenarios.</summary>
        public double HostileShare { get; init; } = 0.2;
        /// <summary>The hostile scenarios to run (<see cref="SoakScenarios.Hostile"/> by default): one alone tells which leaves something behind.</summary>
        public IReadOnlyList<string> HostileKinds { get; init; } = SoakScenarios.Hostile;
        public TimeSpan MinLifetime { get; init; } = TimeSpan.FromSeconds(5);
        public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromSeconds(30);
        /// <summary>A well-behaved peer sends one message on each of the echo and sink channels per interval.</summary>
        public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(200);
        public int Size { get; init; } = 64;
        /// <summary>The JSON lines file (one line per report, then the summary); null for none.</summary>
        public string? Out { get; init; }
        /// <summary>The SVG plot; null for none.</summary>
        public string? Svg { get; init; }

        public TimeSpan EffectiveWarmup => Warmup ?? Duration / 5;
    }

    /// <summary>The reports, the client's counts at the end, and the verdict.</summary>
    internal sealed record Result(IReadOnlyList<SoakSample> Samples, SoakTally.Snapshot Tally, SoakVerdict Verdict);

    public static async Task<Result> RunAsync(Options options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        await using var target = await SoakTarget.Start(options.Network, options.Peers, options.Timeout, stderr, cancellation);
        stdout.WriteLine($"target: {target.Address} (pid {target.Pid}), RPC {target.Rpc}");
        var log = LogOutput.Default with { Levels = LogLevels.All(Akka.Event.LogLevel.ErrorLevel) };
        var system = ActorSystem.Create("tmactors-bench-soak", NodeAkkaConfig.Create(log.Levels));
        using var http = new HttpClient { Timeout = options.Timeout };
        await using var jsonl = options.Out is { } path ? new StreamWriter(path, append: false) : null;
        try
        {
            LogSinks.Start(system, TextWriter.Synchronized(stderr), hold: false, log);
            var run = new Run(options, target, system, system.Materializer(), system.ActorOf(SoakTally.Props(), "tally"));
            var started = Stopwatch.GetTimestamp();
            using var churning = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            churning.CancelAfter(options.Duration);
            var slots = Enumerable.Range(0, options.Peers).Select(i => run.Slot(i, churning.Token)).ToArray();

            var samples = new List<SoakSample>();
            var previous = (Seconds: 0.0, Messages: 0L);
            for (var n = 1; ; n++)
            {
                var due = options.ReportEvery * n;
                // Reports while the churn runs; the one after it is the final report below.
                if (due >= options.Duration) break;
                var wait = due - Stopwatch.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait, cancellation);
                var (sample, messages) = await Report(run, http, Stopwatch.GetElapsedTime(started).TotalSeconds, previous, final: false, cancellation);
                previous = (sample.Seconds, messages);
                samples.Add(sample);
                stdout.WriteLine(sample.ToString());
                jsonl?.WriteLine(sample.ToJson());
                jsonl?.Flush();
            }

            // The end: every slot finishes its connection (well-behaved ones drain their echoes and close gracefully).
            await Task.WhenAll(slots);
            var tally = await run.Tally.Ask<SoakTally.Snapshot>(SoakTally.GetSnapshot.Instance, options.Timeout, cancellation);
            // The sink counts what was written before each graceful close; its last messages may still be on their way in.
            var deadline = Stopwatch.GetTimestamp() + (long)(options.Timeout.TotalSeconds * Stopwatch.Frequency);
            while ((await target.Sample(options.Timeout, cancellation)).SinkMessages < tally.SinkSent && Stopwatch.GetTimestamp() < deadline)
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellation);
            var (last, _) = await Report(run, http, Stopwatch.GetElapsedTime(started).TotalSeconds, previous, final: true, cancellation);
            samples.Add(last);
            stdout.WriteLine(last.ToString() + "  (after the churn)");
            jsonl?.WriteLine(last.ToJson());

            var verdict = SoakVerdict.Of(samples, options.EffectiveWarmup.TotalSeconds, tally);
            foreach (var line in verdict.Lines())
                stdout.WriteLine(line);
            jsonl?.WriteLine(verdict.ToJson(tally, last.Seconds));
            if (options.Svg is { } svg)
                await File.WriteAllTextAsync(svg, SoakPlot.Svg(samples, options.EffectiveWarmup.TotalSeconds,
                    FormattableString.Invariant($"bench soak: {options.Peers} peers, {options.HostileShare:P0} hostile, {options.Duration.TotalMinutes:0.#} min — {(verdict.Pass ? "PASS" : "FAIL")}")),
                    CancellationToken.None);
            return new Result(samples, tally, verdict);
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>One report: the target's process from /proc, its RPC, its metrics, its own figures, and the client's counts.</summary>
    private static async Task<(SoakSample Sample, long Messages)> Report(Run run, HttpClient http, double seconds, (double Seconds, long Messages) previous,
        bool final, CancellationToken cancellation)
    {
        var options = run.Options;
        var process = ProcessSample.Of(run.Target.Pid);
        var (fds, sockets) = Descriptors(run.Target.Pid);
        var sample = new SoakSample(seconds, final) { RssKb = process.RssKilobytes, CpuSeconds = process.Cpu.TotalSeconds, Fds = fds, Sockets = sockets };
        var rpcStarted = Stopwatch.GetTimestamp();
        try
        {
            using var netInfo = JsonDocument.Parse(await http.GetStringAsync(new Uri(run.Target.Rpc, "net_info"), cancellation));
            var peers = netInfo.RootElement.GetProperty("result").GetProperty("n_peers");
            sample = sample with
            {
                LivePeers = int.Parse(peers.ValueKind == JsonValueKind.String ? peers.GetString()! : peers.GetRawText(), CultureInfo.InvariantCulture),
                RpcMs = Stopwatch.GetElapsedTime(rpcStarted).TotalMilliseconds,
            };
            var (stops, series) = Metrics(await http.GetStringAsync(new Uri(run.Target.Rpc, "metrics"), cancellation));
            sample = sample with { StopsByReason = stops, MetricsSeries = series };
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or FormatException
                                       && !cancellation.IsCancellationRequested)
        {
            sample = sample with { RpcError = e.Message };
        }
        try
        {
            sample = sample with { Target = await run.Target.Sample(options.Timeout, cancellation) };
        }
        catch (TimeoutException e)
        {
            sample = sample with { RpcError = sample.RpcError ?? e.Message };
        }
        var tally = await run.Tally.Ask<SoakTally.Snapshot>(SoakTally.GetSnapshot.Instance, options.Timeout, cancellation);
        var messages = tally.Sent + tally.Echoed;
        var elapsed = seconds - previous.Seconds;
        return (sample with
        {
            MessagesPerSecond = elapsed > 0 ? (messages - previous.Messages) / elapsed : 0,
            Connections = tally.Outcomes,
            Lost = tally.Lost,
            Duplicates = tally.Duplicates,
            SinkSent = tally.SinkSent,
        }, messages);
    }

    /// <summary>The open descriptors of a process, and how many of them are sockets.</summary>
    internal static (int Fds, int Sockets) Descriptors(int pid)
    {
        int fds = 0, sockets = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            fds++;
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                    sockets++;
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }
        return (fds, sockets);
    }

    /// <summary>
    /// From the Prometheus text of the target's <c>/metrics</c>: <c>*_p2p_peer_stops_total</c> summed by its
    /// <c>reason</c> label (marked when <c>was_peer</c> is false), and how many series there are.
    /// </summary>
    internal static (IReadOnlyDictionary<string, long> StopsByReason, int Series) Metrics(string text)
    {
        var stops = new Dictionary<string, long>(StringComparer.Ordinal);
        var series = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            series++;
            var brace = line.IndexOf('{');
            if (brace < 0 || !line.AsSpan(0, brace).EndsWith("_p2p_peer_stops_total")) continue;
            var at = line.IndexOf("reason=\"", brace, StringComparison.Ordinal);
            var close = line.LastIndexOf('}');
            if (at < 0 || close < 0) continue;
            var start = at + "reason=\"".Length;
            var reason = line[start..line.IndexOf('"', start)];
            // Connections that never became peers (failed dials and handshakes) apart from peers' ends.
            if (line.Contains("was_peer=\"false\"", StringComparison.Ordinal))
                reason += " (no peer)";
            var value = line[(close + 1)..].Trim().Split(' ')[0];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var count))
                stops[reason] = stops.GetValueOrDefault(reason) + (long)count;
        }
        return (stops, series);
    }

    /// <summary>What the slots share: all of it immutable or an actor.</summary>
    private sealed class Run(Options options, SoakTarget target, ActorSystem system, IMaterializer materializer, IActorRef tally)
    {
        // Room for 20 s of a peer's messages per channel: with Go's default of one, a client held up for two ticks
        // (a loaded machine) refused its own sends, and a refusal at the end of a connection shows in no echo gap.
        private static readonly ChannelDescriptor[] Channels =
            [.. SoakScenarios.PeerChannels.Select(id => new ChannelDescriptor(id, 1) { SendQueueCapacity = 100 })];

        // No rate limits on our side: the target's are what is exercised.
        private static readonly MConnectionSettings Connection = new() { SendRate = 0, RecvRate = 0 };

        private readonly IP2PTransport _transport = new TcpTransport();

        public Options Options => options;
        public SoakTarget Target => target;
        public IActorRef Tally => tally;

        /// <summary>One connection after another until <paramref name="churning"/> fires; each slot starts a little after the last.</summary>
        public async Task Slot(int slot, CancellationToken churning)
        {
            var random = new Random(slot);
            try
            {
                await Task.Delay(options.MinLifetime * slot / Math.Max(1, options.Peers), churning);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            for (var n = 0; !churning.IsCancellationRequested; n++)
            {
                var scenario = random.NextDouble() < options.HostileShare
                    ? options.HostileKinds[random.Next(options.HostileKinds.Count)]
                    : SoakScenarios.WellBehaved;
                SoakTally.Outcome outcome;
                try
                {
                    outcome = scenario == SoakScenarios.WellBehaved
                        ? await WellBehaved($"{slot}-{n}", random, churning)
                        : await SoakHostilePeer.RunAsync(_transport, materializer, target.Address, options.Network, scenario, options.Timeout, churning);
                }
                catch (Exception e) when (e is not OperationCanceledException || !churning.IsCancellationRequested)
                {
                    outcome = new SoakTally.Outcome(scenario, "error", e.GetBaseException().Message);
                }
                catch (OperationCanceledException)
                {
                    outcome = new SoakTally.Outcome(scenario, "abandoned");
                }
                tally.Tell(outcome);
            }
        }

        private SecretConnectionSettings Secret => new() { HandshakeTimeout = options.Timeout, ExpectedRemoteId = target.Address.Id };

        private async Task<SoakTally.Outcome> WellBehaved(string name, Random random, CancellationToken churning)
        {
            using var key = NodeKey.Generate();
            var client = system.ActorOf(SoakClient.Props(tally, options.Interval, options.Size), $"peer-{name}");
            try
            {
                var handler = SecretConnection.Upgrade(key, SoakScenarios.PeerInfo(key, options.Network, name), Secret)
                    .JoinUnderMat(MConnection.Create(Connection, Channels, client), (u, h) => (u, h));
                var (remote, (upgraded, handle)) = _transport.Dial(target.Address.Host, target.Address.Port, options.Timeout)
                    .JoinMaterialized(handler, (r, h) => (r, h))
                    .Run(materializer);
                try
                {
                    await upgraded.WaitAsync(options.Timeout + TimeSpan.FromSeconds(5), CancellationToken.None);
                }
                catch (Exception e)
                {
                    handle.Close(flushFirst: false);
                    var reason = remote.IsFaulted ? remote.Exception!.GetBaseException() : e.GetBaseException();
                    return new SoakTally.Outcome(SoakScenarios.WellBehaved, "connect-failed", reason.Message);
                }
                client.Tell(new SoakClient.Attach(handle));
                var lifetime = options.MinLifetime + (options.MaxLifetime - options.MinLifetime) * random.NextDouble();
                try
                {
                    await Task.Delay(lifetime, churning);
                }
                catch (OperationCanceledException)
                {
                    // The run is over: finish this connection as if its time had come.
                }
                var result = await client.Ask<SoakClient.Result>(new SoakClient.Finish(options.Timeout), options.Timeout + TimeSpan.FromSeconds(10));
                handle.Close(flushFirst: true);
                try
                {
                    await handle.Completion.WaitAsync(options.Timeout, CancellationToken.None);
                }
                catch (Exception e) when (result.StopReason is null)
                {
                    return new SoakTally.Outcome(SoakScenarios.WellBehaved, "close-failed", e.GetBaseException().Message, result);
                }
                catch (Exception)
                {
                    // Ended before: reported below.
                }
                if (result.StopReason is { } stop)
                    return new SoakTally.Outcome(SoakScenarios.WellBehaved, "dropped", stop, result);
                if (result.Lost > 0 || result.Duplicates > 0 || result.Skipped > result.Rejected)
                    return new SoakTally.Outcome(SoakScenarios.WellBehaved, "lost",
                        $"{result.Lost} of {result.EchoSent} not echoed, {result.Duplicates} twice, {result.Skipped} skipped", result);
                return new SoakTally.Outcome(SoakScenarios.WellBehaved, "ok", null, result);
            }
            finally
            {
                system.Stop(client);
            }
        }
    }
}
