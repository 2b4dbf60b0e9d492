using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using TendermintActors.Node.Bench;
using TendermintActors.Node.Rpc;
using TendermintActors.Node.Runtime;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Commands;

/// <summary>
/// <c>tmactors bench send|sink|echo</c>: measures a link to any node that runs echo/sink reactors (another tmactors
/// with <c>--echo-channel</c>/<c>--sink-channel</c>, or a Go node with equivalents); <c>bench peers</c> measures one
/// node holding many peers (<see cref="PeersBench"/>). With <c>--json</c> each run prints exactly one JSON object per
/// line on stdout (for echo: one line per size) and nothing else there.
/// </summary>
internal static class BenchCommand
{
    /// <summary>What every bench command shares. <c>Progress</c> redraws a status line on stderr (terminals only).</summary>
    internal sealed record Common(string Network, NodeHome? Home, byte Channel, TimeSpan Timeout, bool Json, bool Progress);

    internal sealed record SendOptions(Common Common, NetAddress Target, long Count, int Size)
    {
        /// <summary>
        /// When set, the timed run lasts this long (at most <see cref="Count"/> messages) instead of a count: long
        /// enough to be steady at any speed, where a fixed count is over in a blink on a fast link or takes ages on a
        /// rate-limited one.
        /// </summary>
        public TimeSpan? Duration { get; init; }

        /// <summary><c>bench send</c>'s timed run unless <c>--count</c> or <c>--duration</c> says otherwise.</summary>
        public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(10);

        /// <summary>
        /// Messages sent (and written) before the timed run, so that it measures warm code, not the JIT; with
        /// <see cref="WarmupTime"/>, the size of each warm-up batch.
        /// </summary>
        public long Warmup { get; init; }

        /// <summary>When set, warm-up batches of <see cref="Warmup"/> messages go out until this much time has passed (at least one).</summary>
        public TimeSpan? WarmupTime { get; init; }

        /// <summary>
        /// A timed warm-up's batch: 8 MiB worth of messages, at least one. The time is checked between batches, so a
        /// small batch keeps the overshoot small on a slow (rate-limited) link too.
        /// </summary>
        public static long WarmupBatch(int size) => Math.Max(1, 8L * 1024 * 1024 / size);

        /// <summary>
        /// With <see cref="WarmupTime"/>, the warm-up goes on past that time until this process's JIT has settled
        /// (<see cref="JitSettling"/>), for at most <see cref="WarmupMaximum"/> in all (<c>--warmup auto</c>).
        /// </summary>
        public bool UntilJitSettles { get; init; }

        /// <summary>
        /// The least <c>--warmup auto</c> sends for. The runtime's tiered JIT needs seconds, not megabytes, to compile
        /// the hot path: after a 64 MiB warm-up, 1 KiB runs measured 10–30 % below the same runs after 3 s.
        /// </summary>
        public static readonly TimeSpan DefaultWarmupTime = TimeSpan.FromSeconds(3);

        /// <summary>The most <c>--warmup auto</c> sends for while the JIT is still busy.</summary>
        public static readonly TimeSpan WarmupMaximum = TimeSpan.FromSeconds(30);
    }

    /// <summary><c>Count</c>: messages of the timed run to wait for; null: until the sender's end marker (<see cref="BenchMarker"/>).</summary>
    internal sealed record SinkOptions(Common Common, string ListenHost, int ListenPort, long? Count);

    internal sealed record EchoOptions(Common Common, NetAddress Target, IReadOnlyList<int> Sizes, int Count)
    {
        /// <summary>
        /// A channel on which the same connection carries a saturating bulk transfer (of <see cref="LoadSize"/>-byte
        /// messages, to the target's sink) while the round trips are measured; null for none.
        /// </summary>
        public byte? LoadChannel { get; init; }
        public int LoadSize { get; init; } = 64 * 1024;
        /// <summary>The bench side's own rate limits (0: none): CometBFT's 5120000 makes both ends of the link a default node.</summary>
        public long SendRate { get; init; }
        public long RecvRate { get; init; }

        /// <summary>
        /// With <see cref="LoadChannel"/>: how long the bulk transfer runs alone before the round trips (after its
        /// warm-up), for the figure it keeps under them to be compared with; zero for none.
        /// </summary>
        public TimeSpan LoadBaseline { get; init; } = DefaultLoadBaseline;

        public static readonly TimeSpan DefaultLoadBaseline = TimeSpan.FromSeconds(3);

        /// <summary>
        /// The load's warm-up before its baseline: at least <see cref="LoadWarmupMinimum"/>, then until this process's
        /// JIT has settled (<see cref="JitSettling"/>), at most <see cref="LoadWarmupMaximum"/>; so that the baseline,
        /// like the round trips after it, runs warm code.
        /// </summary>
        public TimeSpan LoadWarmupMinimum { get; init; } = TimeSpan.FromSeconds(1);
        public TimeSpan LoadWarmupMaximum { get; init; } = TimeSpan.FromSeconds(15);
    }

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    public static Command Create(Option<string> home)
    {
        var bench = new Command("bench", "Measure a link to a node that runs echo/sink reactors (start --echo-channel / --sink-channel)");
        bench.Subcommands.Add(CreateSend(home));
        bench.Subcommands.Add(CreateSink(home));
        bench.Subcommands.Add(CreateEcho(home));
        bench.Subcommands.Add(CreatePeers(home));
        bench.Subcommands.Add(SoakCommand.Create());
        bench.Subcommands.Add(SoakCommand.CreateTarget());
        bench.Options.Add(new HelpOption { Action = new BenchHelp() });
        return bench;
    }

    private sealed record CommonOptions(Option<string> Network, Option<string> Channel, Option<string> Timeout, Option<bool> Json)
    {
        public static CommonOptions Add(Command command, string defaultChannel, string timeoutDescription)
        {
            var options = new CommonOptions(
                new Option<string>("--network") { Description = "Network (chain ID) of the node to measure", HelpName = "NAME", DefaultValueFactory = _ => "test-net" },
                new Option<string>("--channel") { Description = "Channel to measure (0x00 to 0xff, or 0 to 255)", HelpName = "ID", DefaultValueFactory = _ => defaultChannel },
                new Option<string>("--timeout") { Description = timeoutDescription, HelpName = "DURATION", DefaultValueFactory = _ => "30s" },
                new Option<bool>("--json") { Description = "Print the result as one JSON object per line on stdout" });
            command.Options.Add(options.Network);
            command.Options.Add(options.Channel);
            command.Options.Add(options.Timeout);
            command.Options.Add(options.Json);
            command.Options.Add(new HelpOption { Action = new BenchHelp() });
            return options;
        }

        public Common? Parse(ParseResult parse, Option<string> home, string commandName)
        {
            var stderr = parse.InvocationConfiguration.Error;
            var channelText = parse.GetValue(Channel)!;
            if (!StartCommand.TryParseChannel(channelText, out var channel))
            {
                Fail(stderr, commandName, $"--channel '{channelText}' is not a channel ID (0x00 to 0xff, or 0 to 255)");
                return null;
            }
            if (!Durations.TryParse(parse.GetValue(Timeout), out var timeout, out var error))
            {
                Fail(stderr, commandName, $"--timeout {error}");
                return null;
            }
            // --home has a default for the other commands; bench uses a home only when one is named.
            var homeDir = parse.GetResult(home) is { Implicit: false } ? NodeHome.At(parse.GetValue(home)!) : null;
            var json = parse.GetValue(Json);
            var progress = ReferenceEquals(parse.InvocationConfiguration.Output, Console.Out) && !Console.IsOutputRedirected;
            return new Common(parse.GetValue(Network)!, homeDir, channel!.Value, timeout, json, progress);
        }
    }

    private static Option<string> Target() => new("--target")
    {
        Description = "The node to measure, as ID@HOST:PORT", HelpName = "ID@HOST:PORT", Required = true,
    };

    private static Option<string> Count(string description, string? defaultValue) => new("--count")
    {
        Description = description, HelpName = "N", DefaultValueFactory = defaultValue is null ? null : _ => defaultValue,
    };

    private static Command CreateSend(Option<string> home)
    {
        var target = Target();
        var count = Count("Send exactly this many messages in the timed run, instead of for --duration", null);
        var duration = new Option<string>("--duration")
        {
            Description = "Length of the timed run when --count is not given: long enough for a steady figure at any speed " +
                          "(a fixed count is over in a blink at 400 MB/s, or takes ages on a rate-limited link)",
            HelpName = "DURATION", DefaultValueFactory = _ => $"{SendOptions.DefaultDuration.TotalSeconds:0}s",
        };
        var size = new Option<string>("--size") { Description = "Bytes per message", HelpName = "BYTES", DefaultValueFactory = _ => "1024" };
        var warmup = new Option<string>("--warmup")
        {
            Description = "What to send (and have written) before the timed run: a number of messages (0: none), a duration such as 5s, " +
                "or auto (at least 3 s, then until this process's JIT has settled, at most 30 s). A bench sink leaves them out of its figure",
            HelpName = "N|DURATION|auto", DefaultValueFactory = _ => "auto",
        };
        var command = new Command("send", "Send messages to a sink for --duration (or --count of them), keeping the channel's queue full; " +
                                          "reports once all are accepted and flushed. Marker messages tell a bench sink where the warm-up and the timed run begin and end");
        command.Options.Add(target);
        command.Options.Add(duration);
        command.Options.Add(count);
        command.Options.Add(size);
        command.Options.Add(warmup);
        var common = CommonOptions.Add(command, "0x43", "How long to wait for the target to connect, and for each stage (warm-up, flush) beyond its expected time");
        command.SetAction(async (parse, cancellation) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (common.Parse(parse, home, "send") is not { } c) return Cli.Failure;
            if (!TryParseTarget(parse.GetValue(target)!, stderr, "send", out var address)) return Cli.Failure;
            var n = long.MaxValue;
            TimeSpan? runTime = null;
            if (parse.GetValue(count) is { } countText)
            {
                if (parse.GetResult(duration) is { Implicit: false })
                    return Fail(stderr, "send", "give --count or --duration, not both");
                if (!TryParsePositive(countText, "--count", stderr, "send", out n)) return Cli.Failure;
            }
            else if (Durations.TryParse(parse.GetValue(duration), out var d, out var durationError))
                runTime = d;
            else
                return Fail(stderr, "send", $"--duration {durationError}");
            if (!TryParsePositive(parse.GetValue(size)!, "--size", stderr, "send", out var s)) return Cli.Failure;
            if (s > 64L * 1024 * 1024)
                return Fail(stderr, "send", $"--size {s} is too large (at most 64 MiB)");
            var warmupText = parse.GetValue(warmup)!;
            var options = new SendOptions(c, address, n, (int)s) { Duration = runTime, Warmup = SendOptions.WarmupBatch((int)s) };
            if (warmupText == "auto")
                options = options with { WarmupTime = SendOptions.DefaultWarmupTime, UntilJitSettles = true };
            else if (long.TryParse(warmupText, NumberStyles.None, CultureInfo.InvariantCulture, out var w))
                options = options with { Warmup = w };
            else if (Durations.TryParse(warmupText, out var time, out _))
                options = options with { WarmupTime = time };
            else
                return Fail(stderr, "send", $"--warmup '{warmupText}' must be 'auto', a duration such as 5s or a whole number of messages (0 for none)");
            using var signals = new ShutdownSignals(cancellation);
            return await RunSendAsync(options, parse.InvocationConfiguration.Output, stderr, signals.Token);
        });
        return command;
    }

    private static Command CreateSink(Option<string> home)
    {
        var laddr = new Option<string>("--p2p.laddr")
        {
            Description = "Address to listen on, e.g. tcp://0.0.0.0:26656 (port 0 picks a free one)", HelpName = "ADDR",
            DefaultValueFactory = _ => "tcp://0.0.0.0:26656",
        };
        var count = Count("Report after this many messages of the timed run, instead of at the sender's end marker (for senders other than bench send)", null);
        var command = new Command("sink", "Listen, count what a peer sends, and report the rate from the first message counted to the last. " +
                                          "From a bench send, only its timed run counts (its marker messages say where the warm-up and the timed run begin and end)");
        command.Options.Add(laddr);
        command.Options.Add(count);
        var common = CommonOptions.Add(command, "0x43", "How long to wait for a peer to connect, then at most between two messages");
        command.SetAction(async (parse, cancellation) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (common.Parse(parse, home, "sink") is not { } c) return Cli.Failure;
            long? n = null;
            if (parse.GetValue(count) is { } countText)
            {
                if (!TryParsePositive(countText, "--count", stderr, "sink", out var parsed)) return Cli.Failure;
                n = parsed;
            }
            var text = parse.GetValue(laddr)!;
            System.Net.IPEndPoint endpoint;
            try
            {
                endpoint = RpcServer.ParseListenAddress(text);
            }
            catch (FormatException)
            {
                return Fail(stderr, "sink", $"--p2p.laddr '{text}': expected tcp://host:port with an IP address (or localhost) and a port from 0 to 65535");
            }
            using var signals = new ShutdownSignals(cancellation);
            return await RunSinkAsync(new SinkOptions(c, endpoint.Address.ToString(), endpoint.Port, n),
                parse.InvocationConfiguration.Output, stderr, signals.Token);
        });
        return command;
    }

    private static Command CreateEcho(Option<string> home)
    {
        var target = Target();
        var sizes = new Option<string>("--sizes") { Description = "Comma-separated message sizes in bytes", HelpName = "LIST", DefaultValueFactory = _ => "64,1024,65536" };
        var count = Count("Round trips per size", "100");
        var loadChannel = new Option<string>("--load-channel")
        {
            Description = "Meanwhile keep a bulk transfer going on this channel of the same connection (to the target's sink, e.g. start --sink-channel), " +
                          "to measure round trips under load; the report adds load_mb_per_s",
            HelpName = "ID",
        };
        var loadSize = new Option<string>("--load-size") { Description = "Message size of the bulk transfer in bytes", HelpName = "BYTES", DefaultValueFactory = _ => "65536" };
        var loadBaseline = new Option<string>("--load-baseline")
        {
            Description = "With --load-channel: first run the bulk transfer alone on the same connection (after a warm-up until the JIT has settled) " +
                          "for this long (0: not at all); the report adds load_unloaded_mb_per_s and load_kept_percent",
            HelpName = "DURATION", DefaultValueFactory = _ => $"{EchoOptions.DefaultLoadBaseline.TotalSeconds:0}s",
        };
        var sendRate = new Option<string>("--send-rate")
        {
            Description = "This side's send rate limit in bytes per second, as the node's send-rate (0: none; 5120000 is CometBFT's default)",
            HelpName = "BYTES", DefaultValueFactory = _ => "0",
        };
        var recvRate = new Option<string>("--recv-rate")
        {
            Description = "This side's receive rate limit in bytes per second, as the node's recv-rate (0: none; 5120000 is CometBFT's default)",
            HelpName = "BYTES", DefaultValueFactory = _ => "0",
        };
        var command = new Command("echo", "Send messages one at a time to an echo reactor and report round-trip percentiles per size");
        command.Options.Add(target);
        command.Options.Add(sizes);
        command.Options.Add(count);
        command.Options.Add(loadChannel);
        command.Options.Add(loadSize);
        command.Options.Add(loadBaseline);
        command.Options.Add(sendRate);
        command.Options.Add(recvRate);
        var common = CommonOptions.Add(command, "0x42", "How long to wait for the target to connect, and for each echo to come back");
        command.SetAction(async (parse, cancellation) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (common.Parse(parse, home, "echo") is not { } c) return Cli.Failure;
            if (!TryParseTarget(parse.GetValue(target)!, stderr, "echo", out var address)) return Cli.Failure;
            if (!TryParsePositive(parse.GetValue(count)!, "--count", stderr, "echo", out var k) || k > int.MaxValue)
                return k > int.MaxValue ? Fail(stderr, "echo", $"--count {k} is too large") : Cli.Failure;
            var list = new List<int>();
            foreach (var part in parse.GetValue(sizes)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var s) || s < 1 || s > 64L * 1024 * 1024)
                    return Fail(stderr, "echo", $"--sizes '{part}' is not a size from 1 to {64 * 1024 * 1024} bytes");
                list.Add((int)s);
            }
            if (list.Count == 0) return Fail(stderr, "echo", "--sizes is empty");
            byte? load = null;
            if (parse.GetValue(loadChannel) is { } lc)
            {
                if (!StartCommand.TryParseChannel(lc, out load))
                    return Fail(stderr, "echo", $"--load-channel '{lc}' is not a channel ID (0x00 to 0xff, or 0 to 255)");
                if (load == c.Channel)
                    return Fail(stderr, "echo", $"--load-channel is --channel (0x{c.Channel:x2}); give the bulk transfer its own channel");
            }
            var ls = parse.GetValue(loadSize)!;
            if (!long.TryParse(ls, NumberStyles.None, CultureInfo.InvariantCulture, out var loadBytes) || loadBytes < 1 || loadBytes > 64L * 1024 * 1024)
                return Fail(stderr, "echo", $"--load-size '{ls}' is not a size from 1 to {64 * 1024 * 1024} bytes");
            var baselineText = parse.GetValue(loadBaseline)!;
            var baseline = TimeSpan.Zero;
            if (baselineText != "0" && !Durations.TryParse(baselineText, out baseline, out var baselineError))
                return Fail(stderr, "echo", $"--load-baseline {baselineError} (or 0 for none)");
            var rates = new long[2];
            foreach (var (option, i) in new[] { (sendRate, 0), (recvRate, 1) })
            {
                var text = parse.GetValue(option)!;
                if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out rates[i]))
                    return Fail(stderr, "echo", $"{option.Name} '{text}' is not a rate in bytes per second (0 for none)");
            }
            using var signals = new ShutdownSignals(cancellation);
            return await RunEchoAsync(new EchoOptions(c, address, list, (int)k)
                {
                    LoadChannel = load, LoadSize = (int)loadBytes, SendRate = rates[0], RecvRate = rates[1], LoadBaseline = baseline,
                },
                parse.InvocationConfiguration.Output, stderr, signals.Token);
        });
        return command;
    }

    private static Command CreatePeers(Option<string> home)
    {
        var target = new Option<string>("--target")
        {
            Description = "The node to measure, as ID@HOST:PORT, with --target-pid; without it, a tmactors start with an echo reactor is run for the purpose",
            HelpName = "ID@HOST:PORT",
        };
        var targetPid = new Option<string>("--target-pid") { Description = "The target's process ID, to read its memory and CPU from /proc", HelpName = "PID" };
        var peers = new Option<string>("--peers") { Description = $"Peers to connect, each with its own node key (at most {MaxPeers})", HelpName = "N", DefaultValueFactory = _ => "1000" };
        var size = new Option<string>("--size") { Description = $"Bytes per message (at least {PeersBench.Options.MinSize}: each carries its send time)", HelpName = "BYTES", DefaultValueFactory = _ => "64" };
        var interval = new Option<string>("--interval") { Description = "Each peer sends one message per interval, the peers spread evenly over it", HelpName = "DURATION", DefaultValueFactory = _ => "1s" };
        var duration = new Option<string>("--duration") { Description = "How long the peers send", HelpName = "DURATION", DefaultValueFactory = _ => "30s" };
        var idle = new Option<bool>("--idle") { Description = "Connect, wait --settle, measure the target's memory and send nothing (works against any node, a Go one included)" };
        var concurrency = new Option<string>("--concurrency") { Description = "Handshakes in progress at once", HelpName = "N", DefaultValueFactory = _ => "32" };
        var morePeers = new Option<string>("--more-peers")
        {
            Description = "Once the first reading is taken, connect this many more and read again: what each adds, without what the first connections pay once",
            HelpName = "N",
        };
        var targetChannels = new Option<string>("--target-channels")
        {
            Description = "Channels the started target declares besides --channel, each a counting reactor's: comma-separated IDs, or 'go' for a Go node's ten " +
                          "(0x00,0x20,0x21,0x22,0x23,0x30,0x38,0x40,0x60,0x61; a Go node holds state for each per peer, used or not)",
            HelpName = "IDS",
        };
        var settle = new Option<string>("--settle")
        {
            Description = "How long to wait before reading the target's memory: after starting it, and after the peers connect (its idle CPU is measured meanwhile). " +
                          "Long enough by default for the runtime to hand back the JIT's freed working memory (up to 16 MB, kept a few seconds after it goes quiet)",
            HelpName = "DURATION", DefaultValueFactory = _ => "15s",
        };
        var command = new Command("peers", "Connect many peers to one node (each its own connection and node key, all from this process): report the handshake rate, " +
                                           "the target's memory per idle peer, then the round trips of a message per peer per --interval through its echo reactor and the target's CPU per message");
        command.Options.Add(target);
        command.Options.Add(targetPid);
        command.Options.Add(peers);
        command.Options.Add(size);
        command.Options.Add(interval);
        command.Options.Add(duration);
        command.Options.Add(idle);
        command.Options.Add(concurrency);
        command.Options.Add(morePeers);
        command.Options.Add(targetChannels);
        command.Options.Add(settle);
        var common = CommonOptions.Add(command, "0x42", "How long to wait for the target to start, for each handshake, and for the last echoes");
        command.SetAction(async (parse, cancellation) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (common.Parse(parse, home, "peers") is not { } c) return Cli.Failure;
            var options = new PeersBench.Options(c.Network, c.Channel, 0, c.Timeout) { Idle = parse.GetValue(idle) };
            switch (parse.GetValue(target), parse.GetValue(targetPid))
            {
                case ({ } t, { } p):
                    if (!TryParseTarget(t, stderr, "peers", out var address)) return Cli.Failure;
                    if (!TryParsePositive(p, "--target-pid", stderr, "peers", out var pid) || pid > int.MaxValue)
                        return pid > int.MaxValue ? Fail(stderr, "peers", $"--target-pid {pid} is not a process ID") : Cli.Failure;
                    options = options with { Target = (address, (int)pid) };
                    break;
                case ({ }, null):
                    return Fail(stderr, "peers", "--target needs --target-pid: the target's memory and CPU are read from /proc/<pid>");
                case (null, { }):
                    return Fail(stderr, "peers", "--target-pid needs --target (without either, a target is started)");
            }
            if (!TryParsePositive(parse.GetValue(peers)!, "--peers", stderr, "peers", out var n)) return Cli.Failure;
            if (n > MaxPeers) return Fail(stderr, "peers", $"--peers {n} is too many (at most {MaxPeers})");
            if (!TryParsePositive(parse.GetValue(size)!, "--size", stderr, "peers", out var s)) return Cli.Failure;
            if (s < PeersBench.Options.MinSize || s > 1024 * 1024)
                return Fail(stderr, "peers", $"--size {s} is not a size from {PeersBench.Options.MinSize} to {1024 * 1024} bytes");
            if (!Durations.TryParse(parse.GetValue(interval), out var every, out var error) || every <= TimeSpan.Zero)
                return Fail(stderr, "peers", $"--interval {error ?? "must be positive"}");
            if (!Durations.TryParse(parse.GetValue(duration), out var length, out error) || length <= TimeSpan.Zero)
                return Fail(stderr, "peers", $"--duration {error ?? "must be positive"}");
            if (!TryParsePositive(parse.GetValue(concurrency)!, "--concurrency", stderr, "peers", out var k)) return Cli.Failure;
            if (!Durations.TryParse(parse.GetValue(settle), out var wait, out error))
                return Fail(stderr, "peers", $"--settle {error}");
            if (parse.GetValue(morePeers) is { } mp)
            {
                if (!TryParsePositive(mp, "--more-peers", stderr, "peers", out var m)) return Cli.Failure;
                if (n + m > MaxPeers) return Fail(stderr, "peers", $"--peers and --more-peers {n + m} are too many (at most {MaxPeers})");
                options = options with { MorePeers = (int)m };
            }
            if (parse.GetValue(targetChannels) is { } tc)
            {
                if (options.Target is not null)
                    return Fail(stderr, "peers", "--target-channels is for the target bench peers starts; a --target has its own channels");
                IReadOnlyList<byte> extra = PeersBench.Options.GoChannels;
                if (!tc.Trim().Equals("go", StringComparison.OrdinalIgnoreCase) && !StartCommand.TryParseChannels(tc, out extra, out var bad))
                    return Fail(stderr, "peers", $"--target-channels '{bad}' is not a channel ID (0x00 to 0xff, or 0 to 255), nor is the list 'go'");
                if (extra.Contains(c.Channel))
                    return Fail(stderr, "peers", $"--target-channels has 0x{c.Channel:x2}, the echo channel (--channel)");
                options = options with { TargetChannels = extra.Distinct().ToArray() };
            }
            options = options with
            {
                Settle = wait,
                Peers = (int)n, Size = (int)s, Interval = every, Duration = length, Concurrency = (int)Math.Min(k, MaxPeers),
                Progress = c.Progress ? stderr : null,
            };
            using var signals = new ShutdownSignals(cancellation);
            return await RunPeersAsync(options, c.Json, parse.InvocationConfiguration.Output, stderr, signals.Token);
        });
        return command;
    }

    /// <summary>The most peers <c>bench peers</c> connects: each costs this process a connection and a node key.</summary>
    internal const int MaxPeers = 20_000;

    public static async Task<int> RunPeersAsync(PeersBench.Options options, bool json, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        try
        {
            var report = await PeersBench.RunAsync(options, stderr, cancellation);
            stdout.WriteLine(json ? report.ToJson() : report.ToString());
            return 0;
        }
        catch (AskTimeoutException)
        {
            return Fail(stderr, "peers", $"the peers' last echoes were not counted within {options.Timeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (IsRunFailure(e))
        {
            return Fail(stderr, "peers", Describe(e));
        }
    }

    public static async Task<int> RunSendAsync(SendOptions options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var c = options.Common;
        try
        {
            await using var node = await BenchNode.Start(new BenchNode.Settings(c.Network, c.Channel, "127.0.0.1", 0) { Home = c.Home }, stderr, cancellation);
            var peer = await Connect(node, options.Target, c, stderr, cancellation);
            var message = new byte[options.Size];
            Random.Shared.NextBytes(message);
            if (options.Warmup > 0)
            {
                peer.Send(c.Channel, BenchMarker.Bytes(BenchMarker.Kind.Warmup));
                await WarmUp(node, peer, message, options, stderr, cancellation);
            }
            // In order with the data on the channel: a bench sink counts from here.
            peer.Send(c.Channel, BenchMarker.Bytes(BenchMarker.Kind.Timed));
            var sender = node.System.ActorOf(BulkSender.Props(peer, c.Channel, message, options.Count, BenchNode.SendQueueCapacity, options.Duration), "sender");
            var started = Stopwatch.GetTimestamp();
            var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
            var accepted = sender.Ask<BulkSender.AllAccepted>(BulkSender.Start.Instance, Timeout.InfiniteTimeSpan, cancellation);
            while (await Task.WhenAny(accepted, Task.Delay(ProgressInterval, cancellation)) != accepted)
            {
                if (!c.Progress) continue;
                var progress = await sender.Ask<BulkSender.Progress>(BulkSender.GetProgress.Instance, c.Timeout, cancellation);
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var of = options.Duration is null ? $"/{options.Count}" : "";
                stderr.Write(FormattableString.Invariant(
                    $"\rsend: {progress.Accepted}{of} accepted, {progress.Accepted * (double)options.Size / seconds / 1e6:F1} MB/s   "));
            }
            var sent = (await accepted).Messages;
            peer.Send(c.Channel, BenchMarker.Bytes(BenchMarker.Kind.End));
            // Accepted means queued; the graceful stop ends only once the queues are written to the socket.
            await node.FlushAndStopAsync(peer, c.Timeout + TimeSpan.FromSeconds(sent * (double)options.Size / 1e6), cancellation);
            var result = new Throughput(sent, sent * options.Size, Stopwatch.GetElapsedTime(started).TotalSeconds)
            {
                ProcessCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart,
            };
            if (c.Progress) stderr.WriteLine();
            stdout.WriteLine(c.Json ? result.ToJson() : $"sent {result}");
            return 0;
        }
        catch (Exception e) when (IsRunFailure(e))
        {
            return Fail(stderr, "send", Describe(e));
        }
    }

    /// <summary>
    /// Sends the warm-up messages (batch after batch until <see cref="SendOptions.WarmupTime"/> has passed, when set,
    /// and then until the JIT has settled, when asked) and waits until the channel's queue is empty, so none of them is
    /// timed; says on stderr what it sent.
    /// </summary>
    private static async Task WarmUp(BenchNode node, PeerHandle peer, byte[] message, SendOptions options, TextWriter stderr,
        CancellationToken cancellation)
    {
        var c = options.Common;
        var budget = c.Timeout + TimeSpan.FromSeconds(options.Warmup * (double)options.Size / 1e6);
        var started = Stopwatch.GetTimestamp();
        var settling = options.UntilJitSettles && options.WarmupTime is { } minimum ? new JitSettling(minimum, SendOptions.WarmupMaximum) : null;
        var batches = 0;
        bool more;
        do
        {
            var warm = node.System.ActorOf(BulkSender.Props(peer, c.Channel, message, options.Warmup, BenchNode.SendQueueCapacity), $"warmup-{++batches}");
            await warm.Ask<BulkSender.AllAccepted>(BulkSender.Start.Instance, budget, cancellation);
            node.System.Stop(warm);
            var elapsed = Stopwatch.GetElapsedTime(started);
            more = settling is not null
                ? !settling.IsSettled(elapsed, System.Runtime.JitInfo.GetCompilationTime())
                : options.WarmupTime is { } time && elapsed < time;
        }
        while (more);
        await AwaitWritten(peer, options, budget, cancellation);
        var jit = settling is null ? "" : $" ({settling.Outcome})";
        stderr.WriteLine(FormattableString.Invariant(
            $"warm-up: {batches * options.Warmup} messages in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.00} s{jit}"));
    }

    private static async Task AwaitWritten(PeerHandle peer, SendOptions options, TimeSpan budget, CancellationToken cancellation)
    {
        var c = options.Common;
        var deadline = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var status = await peer.Actor.Ask<Peer.Status>(Peer.GetStatus.Instance, c.Timeout, cancellation);
            if (status.Connection.Channels.All(ch => ch.Id != c.Channel || ch.SendQueueSize == 0)) return;
            if (Stopwatch.GetTimestamp() > deadline)
                throw new TimeoutException($"the warm-up messages were not written within {budget.TotalSeconds:0.#} s");
            await Task.Delay(TimeSpan.FromMilliseconds(5), cancellation);
        }
    }

    /// <summary>
    /// Runs the sink; <paramref name="listening"/> is called once it listens (tests take the bound address from it).
    /// </summary>
    public static async Task<int> RunSinkAsync(SinkOptions options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation,
        Action<BenchNode>? listening = null)
    {
        var c = options.Common;
        try
        {
            await using var node = await BenchNode.Start(new BenchNode.Settings(c.Network, c.Channel, options.ListenHost, options.ListenPort) { Home = c.Home },
                stderr, cancellation);
            // Not part of the result: with --json, stdout carries only the JSON object.
            var info = c.Json ? stderr : stdout;
            info.WriteLine($"Node ID: {node.Id.Hex}");
            info.WriteLine($"Listening on: {node.ListenAddress}");
            listening?.Invoke(node);

            var done = node.Reactor.Ask<Throughput>(new BenchReactor.AwaitMessages(options.Count), Timeout.InfiniteTimeSpan, cancellation);
            // --timeout twice: for a peer to connect, then between messages (the first one included), so that a
            // sender's own start-up does not count against its messages.
            long lastCount = -1;
            var peerSeen = false;
            var lastChange = Stopwatch.GetTimestamp();
            while (await Task.WhenAny(done, Task.Delay(ProgressInterval, cancellation)) != done)
            {
                var counts = await node.Reactor.Ask<BenchReactor.Counts>(BenchReactor.GetCounts.Instance, c.Timeout, cancellation);
                // Warm-up messages are not counted, but they show the sender is alive.
                if (counts.Messages + counts.WarmupMessages != lastCount || counts.PeerSeen != peerSeen)
                {
                    lastCount = counts.Messages + counts.WarmupMessages;
                    peerSeen = counts.PeerSeen;
                    lastChange = Stopwatch.GetTimestamp();
                }
                else if (Stopwatch.GetElapsedTime(lastChange) > c.Timeout)
                {
                    throw new TimeoutException(!peerSeen
                        ? $"no peer connected within {c.Timeout.TotalSeconds:0.###} s"
                        : lastCount == 0
                            ? $"no message arrived within {c.Timeout.TotalSeconds:0.###} s of the peer connecting"
                            : $"no message for {c.Timeout.TotalSeconds:0.###} s after {counts.Messages}{Of(options.Count)} messages" +
                              (options.Count is null ? " and no end marker (give --count for a sender other than bench send)" : ""));
                }
                if (c.Progress)
                    stderr.Write(counts.Messages == 0 && counts.WarmupMessages > 0
                        ? $"\rsink: warm-up, {counts.WarmupMessages} messages (not counted)   "
                        : $"\rsink: {counts.Messages}{Of(options.Count)} messages, {counts.Bytes} bytes   ");
            }
            var result = await done;
            if (c.Progress) stderr.WriteLine();
            stdout.WriteLine(c.Json ? result.ToJson() : $"received {result}");
            // Let the sender close first (up to --timeout): its bench send confirms its flush by our orderly end, and
            // stopping under it would reset the connection and fail it.
            try
            {
                var gone = await node.Reactor.Ask<BenchReactor.PeerGone>(new BenchReactor.AwaitPeerGone(c.Timeout), c.Timeout + TimeSpan.FromSeconds(5), cancellation);
                // Stopping the node right after is safe: a connection stopped once its FIN is out closes normally
                // (the TCP transport resets only connections stopped before that).
                if (!gone.Gone)
                    stderr.WriteLine($"tmactors bench sink: the sender had not closed within {c.Timeout.TotalSeconds:0.###} s of the report; stopping anyway");
            }
            catch (OperationCanceledException)
            {
                // Interrupted while waiting for the sender: the report is out, so the run still succeeded.
            }
            return 0;
        }
        catch (Exception e) when (IsRunFailure(e))
        {
            return Fail(stderr, "sink", Describe(e));
        }
    }

    private static string Of(long? count) => count is { } n ? $"/{n}" : "";

    public static async Task<int> RunEchoAsync(EchoOptions options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var c = options.Common;
        try
        {
            await using var node = await BenchNode.Start(new BenchNode.Settings(c.Network, c.Channel, "127.0.0.1", 0)
            {
                Home = c.Home,
                LoadChannel = options.LoadChannel,
                SendRate = options.SendRate,
                RecvRate = options.RecvRate,
            }, stderr, cancellation);
            var peer = await Connect(node, options.Target, c, stderr, cancellation);
            var load = options.LoadChannel is { } loadChannel ? await EchoLoad.Start(node, peer, loadChannel, options.LoadSize, c.Timeout, cancellation) : null;
            if (load is not null)
            {
                if (c.Progress) stderr.Write("echo: the bulk transfer alone...");
                await load.RunAlone(new JitSettling(options.LoadWarmupMinimum, options.LoadWarmupMaximum), options.LoadBaseline, cancellation);
                if (c.Progress) stderr.Write("\r");
                stderr.WriteLine(load.UnloadedMegabytesPerSecond is { } alone
                    ? FormattableString.Invariant($"load alone: warm-up {load.WarmupOutcome}, then {alone:F2} MB/s over {options.LoadBaseline.TotalSeconds:0.###} s")
                    : $"load alone: warm-up {load.WarmupOutcome}");
            }
            foreach (var size in options.Sizes)
            {
                var message = new byte[size];
                Random.Shared.NextBytes(message);
                var samples = new double[options.Count];
                for (var i = 0; i < options.Count; i++)
                {
                    var trip = await node.Reactor.Ask<BenchReactor.RoundTrip>(new BenchReactor.Probe(message), c.Timeout, cancellation);
                    samples[i] = trip.Elapsed.TotalMilliseconds;
                    if (c.Progress && (i + 1) % 50 == 0)
                        stderr.Write($"\recho: {size} B, {i + 1}/{options.Count}   ");
                }
                if (c.Progress) stderr.Write("\r");
                var latency = Latency.Of(size, samples);
                if (load is not null)
                    latency = latency with { LoadMegabytesPerSecond = await load.Rate(cancellation), LoadUnloadedMegabytesPerSecond = load.UnloadedMegabytesPerSecond };
                stdout.WriteLine(c.Json ? latency.ToJson() : latency.ToString());
            }
            if (load is not null)
                node.System.Stop(load.Sender);
            return 0;
        }
        catch (AskTimeoutException)
        {
            return Fail(stderr, "echo", $"no echo within {c.Timeout.TotalSeconds:0.###} s: does the target run an echo reactor on channel 0x{c.Channel:x2}?");
        }
        catch (Exception e) when (IsRunFailure(e))
        {
            return Fail(stderr, "echo", Describe(e));
        }
    }

    private static async Task<PeerHandle> Connect(BenchNode node, NetAddress target, Common c, TextWriter stderr, CancellationToken cancellation)
    {
        if (c.Progress) stderr.Write($"connecting to {target}... ");
        var peer = await node.ConnectAsync(target, c.Timeout, cancellation);
        if (!peer.HasChannel(c.Channel))
            throw new InvalidOperationException($"{target} does not run a reactor on channel 0x{c.Channel:x2} (its channels: {Convert.ToHexString(peer.NodeInfo.Channels.ToArray()).ToLowerInvariant()})");
        if (c.Progress) stderr.WriteLine($"connected as {node.Id.Hex}");
        return peer;
    }

    private static bool IsRunFailure(Exception e) =>
        e is TimeoutException or IOException or InvalidOperationException or OperationCanceledException or AskTimeoutException or UnauthorizedAccessException or FormatException;

    private static string Describe(Exception e) => e switch
    {
        OperationCanceledException => "interrupted",
        _ => e.Message,
    };

    private static bool TryParseTarget(string text, TextWriter stderr, string commandName, out NetAddress address)
    {
        if (NetAddress.TryParse(text, out var parsed, out var error))
        {
            address = parsed;
            return true;
        }
        address = null!;
        Fail(stderr, commandName, $"--target '{text}' is not ID@HOST:PORT: {error}");
        return false;
    }

    private static bool TryParsePositive(string text, string option, TextWriter stderr, string commandName, out long value)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0)
            return true;
        Fail(stderr, commandName, $"{option} '{text}' must be a positive whole number");
        return false;
    }

    private static int Fail(TextWriter stderr, string commandName, string message)
    {
        stderr.WriteLine($"tmactors bench {commandName}: {message}");
        return Cli.Failure;
    }

    /// <summary>What the bench commands' help says of <c>--home</c>, in place of the node-wide option's default.</summary>
    internal const string HomeHelp = "Use the node key under this home (created if missing); without it, each run uses a throw-away key";

    /// <summary>
    /// Help for the bench commands. The default help lists the node-wide <c>--home</c> with its default, but bench
    /// uses a home only when one is named; this help is the default's layout with that line told as it is.
    /// </summary>
    private sealed class BenchHelp : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parse)
        {
            var command = parse.CommandResult.Command;
            var rows = new List<(string Name, string Text)>();
            foreach (var option in command.Options)
            {
                if (option.Hidden || option is HelpOption) continue;
                var value = option.ValueType == typeof(bool) ? "" : $" <{option.HelpName ?? "VALUE"}>";
                var shown = option.HasDefaultValue && option.ValueType != typeof(bool) ? $" [default: {option.GetDefaultValue()}]" : "";
                rows.Add(($"{option.Name}{value}{(option.Required ? " (REQUIRED)" : "")}", option.Description + shown));
            }
            rows.Add(("--home <DIR>", HomeHelp));
            rows.Add(("-?, -h, --help", "Show help and usage information"));
            var commands = command.Subcommands.Select(c => (c.Name, c.Description ?? "")).ToList();
            var width = rows.Concat(commands).Max(r => r.Item1.Length) + 2;
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine("Description:");
            output.WriteLine($"  {command.Description}");
            output.WriteLine();
            output.WriteLine("Usage:");
            output.WriteLine(commands.Count > 0 ? "  tmactors bench [command] [options]" : $"  tmactors bench {command.Name} [options]");
            output.WriteLine();
            if (commands.Count > 0)
            {
                output.WriteLine("Commands:");
                foreach (var (name, text) in commands)
                    output.WriteLine($"  {name.PadRight(width)}{text}");
                output.WriteLine();
            }
            output.WriteLine("Options:");
            foreach (var (name, text) in rows)
                output.WriteLine($"  {name.PadRight(width)}{text}");
            output.WriteLine();
            return 0;
        }
    }
}
