using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using TendermintActors.Node.Bench;
using TendermintActors.Node.Commands;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Tests;

public sealed class BenchCommandSpecs
{
    // Upper bounds only (a passing run is not slowed by them), generous because these start whole nodes and, under a
    // loaded CI machine, a sender's own start-up took most of 10 s once.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static BenchCommand.Common Common(byte channel, TimeSpan? timeout = null) =>
        new("test-net", Home: null, channel, timeout ?? TimeSpan.FromSeconds(30), Json: true, Progress: false);

    /// <summary>A started node with the diagnostics reactors: echo on 0x42, sink on 0x43, RPC off.</summary>
    private static async Task<(TempHome Home, StartCommand.RunningNode Node)> StartNode(params string[] sets)
    {
        var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", "target").ExitCode);
        var node = await StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "",
            EchoChannel = 0x42,
            SinkChannels = [0x43],
            Sets = sets,
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);
        return (home, node);
    }

    private static int MarkerBytes(params BenchMarker.Kind[] kinds) => kinds.Sum(k => BenchMarker.Bytes(k).Length);

    private static JsonElement[] JsonLines(StringWriter stdout) =>
        stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => JsonDocument.Parse(line).RootElement).ToArray();

    [Fact]
    public async Task Bench_send_reports_every_message_accepted_and_flushed_as_one_json_object()
    {
        var (home, node) = await StartNode();
        using var _ = home;
        await using var __ = node;
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await BenchCommand.RunSendAsync(new BenchCommand.SendOptions(Common(0x43), NetAddress.Parse(node.PeerAddress), 200, 1024),
            stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        var result = Assert.Single(JsonLines(stdout));
        Assert.Equal(200, result.GetProperty("messages").GetInt64());
        Assert.Equal(204800, result.GetProperty("bytes").GetInt64());
        Assert.True(result.GetProperty("seconds").GetDouble() > 0);
        Assert.True(result.GetProperty("mb_per_s").GetDouble() > 0);
        Assert.True(result.GetProperty("cpu_ns_per_byte").GetDouble() > 0);
        // Flushed before the report, so the node's sink has them all, and the two markers around them (no warm-up here).
        var counts = await node.Sink!.Ask<Diagnostics.SinkReactor.Counts>(new Diagnostics.SinkReactor.AwaitMessages(202), Timeout);
        Assert.Equal(204800 + MarkerBytes(BenchMarker.Kind.Timed, BenchMarker.Kind.End), counts.Bytes);
    }

    [Fact]
    public async Task Bench_send_warms_up_first_and_reports_only_the_timed_messages()
    {
        var (home, node) = await StartNode();
        using var _ = home;
        await using var __ = node;
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await BenchCommand.RunSendAsync(
            new BenchCommand.SendOptions(Common(0x43), NetAddress.Parse(node.PeerAddress), 200, 1024) { Warmup = 150 },
            stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        var result = Assert.Single(JsonLines(stdout));
        Assert.Equal(200, result.GetProperty("messages").GetInt64());
        Assert.Equal(204800, result.GetProperty("bytes").GetInt64());
        // A plain sink (the node's) counts the warm-up and the three markers too: 353 messages in all, and no more.
        var counts = await node.Sink!.Ask<Diagnostics.SinkReactor.Counts>(new Diagnostics.SinkReactor.AwaitMessages(353), Timeout);
        Assert.Equal(350 * 1024 + MarkerBytes(BenchMarker.Kind.Warmup, BenchMarker.Kind.Timed, BenchMarker.Kind.End), counts.Bytes);
        Assert.Contains("warm-up: 150 messages in ", stderr.ToString());
        Assert.Equal(8 * 1024, BenchCommand.SendOptions.WarmupBatch(1024));
        Assert.Equal(1, BenchCommand.SendOptions.WarmupBatch(64 * 1024 * 1024));
    }

    [Fact]
    public async Task Bench_send_warms_up_in_batches_until_the_warm_up_time_has_passed()
    {
        var (home, node) = await StartNode();
        using var _ = home;
        await using var __ = node;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var time = TimeSpan.FromMilliseconds(300);

        var code = await BenchCommand.RunSendAsync(
            new BenchCommand.SendOptions(Common(0x43), NetAddress.Parse(node.PeerAddress), 200, 1024) { Warmup = 40, WarmupTime = time },
            stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        Assert.Equal(200, Assert.Single(JsonLines(stdout)).GetProperty("messages").GetInt64());
        // Whole batches of 40, for at least the warm-up time (the loop's condition, not a measured speed).
        var report = System.Text.RegularExpressions.Regex.Match(stderr.ToString(), @"warm-up: (\d+) messages in ([\d.]+) s");
        Assert.True(report.Success, stderr.ToString());
        var warmup = long.Parse(report.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(warmup >= 40 && warmup % 40 == 0, $"{warmup} warm-up messages");
        Assert.True(double.Parse(report.Groups[2].Value, CultureInfo.InvariantCulture) >= time.TotalSeconds - 0.005, report.Value);
        // The node's sink saw exactly the warm-up, the timed messages and the three markers.
        var counts = await node.Sink!.Ask<Diagnostics.SinkReactor.Counts>(new Diagnostics.SinkReactor.AwaitMessages(203 + warmup), Timeout);
        Assert.Equal((200 + warmup) * 1024 + MarkerBytes(BenchMarker.Kind.Warmup, BenchMarker.Kind.Timed, BenchMarker.Kind.End), counts.Bytes);
    }

    [Fact]
    public async Task Bench_sink_measures_what_a_bench_send_delivers_to_it()
    {
        var sinkOut = new StringWriter();
        var sinkErr = new StringWriter();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = BenchCommand.RunSinkAsync(new BenchCommand.SinkOptions(Common(0x43), "127.0.0.1", 0, 300), sinkOut, sinkErr,
            CancellationToken.None, node => listening.SetResult(node.PeerAddress));
        var target = await listening.Task.WaitAsync(Timeout);

        var sendOut = new StringWriter();
        var sendErr = new StringWriter();
        var sent = await BenchCommand.RunSendAsync(new BenchCommand.SendOptions(Common(0x43), NetAddress.Parse(target), 300, 512),
            sendOut, sendErr, CancellationToken.None).WaitAsync(Timeout);
        var received = await sink.WaitAsync(Timeout);

        Assert.True(sent == 0, $"sender: {sendErr}; sink: {sinkErr}{sinkOut}");
        Assert.True(received == 0, sinkErr.ToString());
        var result = Assert.Single(JsonLines(sinkOut));
        Assert.Equal(300, result.GetProperty("messages").GetInt64());
        Assert.Equal(300 * 512, result.GetProperty("bytes").GetInt64());
        Assert.True(result.GetProperty("seconds").GetDouble() >= 0);
        // The node's identity goes to stderr with --json, so stdout stays one JSON object.
        Assert.Contains($"Node ID: {target[..40]}", sinkErr.ToString());
        Assert.Contains("Listening on: 127.0.0.1:", sinkErr.ToString());
    }

    [Fact]
    public async Task Bench_sink_counts_only_the_senders_timed_run_and_reports_at_its_end_marker()
    {
        var sinkOut = new StringWriter();
        var sinkErr = new StringWriter();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        // No count: the sink reports when the sender says its timed run has ended.
        var sink = BenchCommand.RunSinkAsync(new BenchCommand.SinkOptions(Common(0x43), "127.0.0.1", 0, Count: null), sinkOut, sinkErr,
            CancellationToken.None, node => listening.SetResult(node.PeerAddress));
        var target = await listening.Task.WaitAsync(Timeout);

        var sendErr = new StringWriter();
        var sent = await BenchCommand.RunSendAsync(
            new BenchCommand.SendOptions(Common(0x43), NetAddress.Parse(target), 300, 512) { Warmup = 150 },
            new StringWriter(), sendErr, CancellationToken.None).WaitAsync(Timeout);
        var received = await sink.WaitAsync(Timeout);

        Assert.True(sent == 0, $"sender: {sendErr}; sink: {sinkErr}{sinkOut}");
        Assert.True(received == 0, sinkErr.ToString());
        // The 150 warm-up messages came first, and are not in the figure.
        var result = Assert.Single(JsonLines(sinkOut));
        Assert.Equal(300, result.GetProperty("messages").GetInt64());
        Assert.Equal(300 * 512, result.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public async Task Bench_send_for_a_duration_reports_what_it_sent_and_the_sink_gets_exactly_that()
    {
        var (home, node) = await StartNode();
        using var _ = home;
        await using var __ = node;
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await BenchCommand.RunSendAsync(
            new BenchCommand.SendOptions(Common(0x43), NetAddress.Parse(node.PeerAddress), long.MaxValue, 256) { Duration = TimeSpan.FromMilliseconds(200) },
            stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        var messages = Assert.Single(JsonLines(stdout)).GetProperty("messages").GetInt64();
        Assert.True(messages > 0);
        var counts = await node.Sink!.Ask<Diagnostics.SinkReactor.Counts>(new Diagnostics.SinkReactor.AwaitMessages(messages + 2), Timeout);
        Assert.Equal(messages * 256 + MarkerBytes(BenchMarker.Kind.Timed, BenchMarker.Kind.End), counts.Bytes);
    }

    [Fact]
    public void Bench_markers_are_told_apart_from_payloads()
    {
        foreach (var kind in Enum.GetValues<BenchMarker.Kind>())
            Assert.Equal(kind, BenchMarker.Of(BenchMarker.Bytes(kind).Span));
        Assert.Null(BenchMarker.Of(new byte[BenchMarker.Bytes(BenchMarker.Kind.End).Length]));
        Assert.Null(BenchMarker.Of(BenchMarker.Bytes(BenchMarker.Kind.End).Span[..^1]));
    }

    [Theory]
    [InlineData("bench", "send")]
    [InlineData("bench", "sink")]
    [InlineData("bench", "echo")]
    [InlineData("bench")]
    public void Bench_help_says_a_home_is_used_only_when_named_and_shows_each_default_once(params string[] command)
    {
        var run = CliRun.Of([.. command, "--help"]);

        Assert.Equal(0, run.ExitCode);
        var home = Assert.Single(run.StdoutLines, l => l.StartsWith("--home", StringComparison.Ordinal));
        Assert.Contains(BenchCommand.HomeHelp, home);
        Assert.DoesNotContain("[default:", home);
        Assert.All(run.StdoutLines, l => Assert.False(l.Contains("(default", StringComparison.Ordinal) && l.Contains("[default:", StringComparison.Ordinal), l));
    }

    [Fact]
    public void Bench_help_describes_each_commands_own_timeout_and_the_send_duration()
    {
        string Line(string command, string option) =>
            Assert.Single(CliRun.Of("bench", command, "--help").StdoutLines, l => l.StartsWith(option, StringComparison.Ordinal));

        Assert.Contains("each echo", Line("echo", "--timeout"));
        Assert.Contains("between two messages", Line("sink", "--timeout"));
        Assert.Contains("[default: 10s]", Line("send", "--duration"));
        Assert.DoesNotContain("[default:", Line("send", "--count"));
        Assert.Contains("end marker", Line("sink", "--count"));
    }

    [Fact]
    public async Task Bench_echo_prints_one_json_line_per_size_with_ordered_percentiles()
    {
        var (home, node) = await StartNode();
        using var _ = home;
        await using var __ = node;
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await BenchCommand.RunEchoAsync(new BenchCommand.EchoOptions(Common(0x42), NetAddress.Parse(node.PeerAddress), [64, 1024], 20),
            stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        var lines = JsonLines(stdout);
        Assert.Equal([64, 1024], lines.Select(l => l.GetProperty("size").GetInt32()));
        foreach (var line in lines)
        {
            Assert.Equal(20, line.GetProperty("count").GetInt32());
            var (p50, p99, max) = (line.GetProperty("p50_ms").GetDouble(), line.GetProperty("p99_ms").GetDouble(), line.GetProperty("max_ms").GetDouble());
            Assert.True(p50 > 0 && p50 <= p99 && p99 <= max, line.ToString());
        }
    }

    [Fact]
    public async Task Bench_echo_under_load_measures_round_trips_while_a_bulk_transfer_runs_on_another_channel()
    {
        var (home, node) = await StartNode();
        using var _ = home;
        await using var __ = node;
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await BenchCommand.RunEchoAsync(
            new BenchCommand.EchoOptions(Common(0x42), NetAddress.Parse(node.PeerAddress), [64, 1024], 20)
            {
                LoadChannel = 0x43, LoadSize = 16 * 1024,
                // A short baseline and no JIT wait: the figures' presence and consistency are tested, not their size.
                LoadBaseline = TimeSpan.FromMilliseconds(300), LoadWarmupMinimum = TimeSpan.Zero, LoadWarmupMaximum = TimeSpan.Zero,
            },
            stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        var lines = JsonLines(stdout);
        Assert.Equal([64, 1024], lines.Select(l => l.GetProperty("size").GetInt32()));
        var unloaded = lines[0].GetProperty("load_unloaded_mb_per_s").GetDouble();
        Assert.True(unloaded > 0, lines[0].ToString());
        foreach (var line in lines)
        {
            Assert.Equal(20, line.GetProperty("count").GetInt32());
            Assert.True(line.GetProperty("p50_ms").GetDouble() > 0);
            var load = line.GetProperty("load_mb_per_s").GetDouble();
            Assert.True(load > 0, line.ToString());
            // One baseline, measured once before the round trips, for every size.
            Assert.Equal(unloaded, line.GetProperty("load_unloaded_mb_per_s").GetDouble());
            // The share agrees with the two rates as far as their rounding in the JSON (3 decimals) allows: a baseline
            // of a fraction of a MB/s, measured over 300 ms, turns its last decimal into whole percentage points.
            var share = 100 * load / unloaded;
            var slack = 0.06 + share * (0.0005 / load + 0.0005 / unloaded);
            Assert.InRange(line.GetProperty("load_kept_percent").GetDouble(), share - slack, share + slack);
        }
        Assert.Contains("load alone: warm-up", stderr.ToString());
        // The bulk messages went to the target's sink on the load channel, beside the echoes.
        var counts = await node.Sink!.Ask<Diagnostics.SinkReactor.Counts>(Diagnostics.SinkReactor.GetCounts.Instance, Timeout);
        Assert.True(counts.Messages > 60, $"{counts.Messages} bulk messages reached the sink"); // at least its first megabyte
    }

    [Fact]
    public async Task A_node_on_the_akka_io_transport_serves_echoes_and_a_bulk_transfer()
    {
        var (home, node) = await StartNode("tendermint.p2p.transport=akka-io");
        using var _ = home;
        await using var __ = node;
        Assert.Equal(Configuration.P2PTransportKind.AkkaIo, node.Settings.Transport);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await BenchCommand.RunEchoAsync(
            new BenchCommand.EchoOptions(Common(0x42), NetAddress.Parse(node.PeerAddress), [64, 70_000], 10) { LoadChannel = 0x43, LoadSize = 16 * 1024 },
            stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        Assert.Equal([64, 70_000], JsonLines(stdout).Select(l => l.GetProperty("size").GetInt32()));
    }

    [Fact]
    public async Task Bench_echo_refuses_a_load_channel_that_is_the_measured_one()
    {
        var run = CliRun.Of("bench", "echo", "--target", "0123456789abcdef0123456789abcdef01234567@127.0.0.1:1", "--channel", "0x42", "--load-channel", "0x42");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--load-channel is --channel (0x42)", run.Stderr);
    }

    [Fact]
    public async Task Bench_send_fails_naming_the_target_when_it_cannot_be_reached_in_time()
    {
        var unreachable = new NetAddress(NodeKey.Generate().Id, "127.0.0.1", 1);
        var stderr = new StringWriter();

        var code = await BenchCommand.RunSendAsync(new BenchCommand.SendOptions(Common(0x43, TimeSpan.FromSeconds(1)), unreachable, 10, 10),
            new StringWriter(), stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.Equal(1, code);
        Assert.Contains($"tmactors bench send: could not connect to {unreachable}", stderr.ToString());
    }

    [Fact]
    public async Task Bench_send_fails_when_the_target_ends_the_connection_instead_of_taking_the_messages()
    {
        // The target's receive rate unlimited: at the default 5 MB/s it decodes the first message for ~4 s while its
        // socket reads on ahead, and the bench's writes, all of them taken by then, may end first, so that the
        // graceful close is flushed before the target hangs up.
        var (home, node) = await StartNode("tendermint.p2p.recv-rate=0");
        using var _ = home;
        await using var __ = node;
        var stderr = new StringWriter();
        var stdout = new StringWriter();

        // One byte over the sink channel's receive message capacity (Tendermint's default): the target disconnects us at
        // the end of the first message, 21 MiB in. Six of them, so that our graceful close still has messages queued
        // when it does (loopback's socket buffers take up to 36 MiB here): the transport stops taking our writes and
        // the close ends unflushed, which the bench must report.
        var code = await BenchCommand.RunSendAsync(new BenchCommand.SendOptions(
                Common(0x43) with { Json = true }, NetAddress.Parse(node.PeerAddress), 6, TendermintActors.Protocol.MConnection.ChannelDescriptor.DefaultRecvMessageCapacity + 1)
            { Warmup = 0 }, stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 1, $"exit {code}; stdout: {stdout}; stderr: {stderr}");
        Assert.Empty(stdout.ToString());
        // The target hung up before our graceful close began ("closed", or "transport/closed" when a write found the
        // socket closed) or while it was flushing ("closed/unflushed"): which one depends on timing.
        Assert.True(stderr.ToString().Contains("tmactors bench send: the target ended the connection before the flush was confirmed (", StringComparison.Ordinal),
            stderr.ToString());
    }

    [Fact]
    public async Task Bench_sink_says_no_peer_came_rather_than_no_message_when_nobody_connects()
    {
        var stderr = new StringWriter();

        var code = await BenchCommand.RunSinkAsync(new BenchCommand.SinkOptions(Common(0x43, TimeSpan.FromSeconds(1)), "127.0.0.1", 0, 10),
            new StringWriter(), stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.Equal(1, code);
        Assert.Contains("tmactors bench sink: no peer connected within 1 s", stderr.ToString());
    }

    [Theory]
    [InlineData("send", "--count", "0", "--count '0' must be a positive whole number")]
    [InlineData("send", "--duration", "soon", "--duration 'soon' is not a positive duration")]
    [InlineData("send", "--size", "big", "--size 'big' must be a positive whole number")]
    [InlineData("send", "--warmup", "lots", "--warmup 'lots' must be 'auto', a duration such as 5s or a whole number of messages (0 for none)")]
    [InlineData("send", "--channel", "0x1ff", "--channel '0x1ff' is not a channel ID")]
    [InlineData("echo", "--sizes", "64,x", "--sizes 'x' is not a size")]
    [InlineData("echo", "--timeout", "soon", "--timeout 'soon' is not a positive duration")]
    [InlineData("echo", "--send-rate", "5MB", "--send-rate '5MB' is not a rate in bytes per second (0 for none)")]
    [InlineData("echo", "--recv-rate", "-1", "--recv-rate '-1' is not a rate in bytes per second (0 for none)")]
    public void Bench_refuses_a_bad_argument_naming_the_option(string command, string option, string value, string message)
    {
        var run = CliRun.Of("bench", command, "--target", $"{new string('a', 40)}@127.0.0.1:26656", option, value);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"tmactors bench {command}: {message}", run.Stderr);
    }

    [Fact]
    public void Bench_send_refuses_both_a_count_and_a_duration()
    {
        var run = CliRun.Of("bench", "send", "--target", $"{new string('a', 40)}@127.0.0.1:26656", "--count", "5", "--duration", "5s");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tmactors bench send: give --count or --duration, not both", run.Stderr);
    }

    [Fact]
    public void Bench_sink_refuses_a_listen_address_that_is_not_tcp_host_port()
    {
        var run = CliRun.Of("bench", "sink", "--p2p.laddr", "tcp://nowhere", "--count", "1");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tmactors bench sink: --p2p.laddr 'tcp://nowhere'", run.Stderr);
    }

    [Fact]
    public void Latency_percentiles_are_nearest_rank_samples()
    {
        var latency = Latency.Of(64, Enumerable.Range(1, 100).Select(i => (double)(101 - i)).ToArray());

        Assert.Equal(new Latency(64, 100, 50, 99, 100), latency);
    }

    [Fact]
    public void Latency_under_load_reports_the_share_of_the_unloaded_rate_kept()
    {
        var latency = new Latency(64, 300, 1, 2, 3) { LoadMegabytesPerSecond = 450, LoadUnloadedMegabytesPerSecond = 600 };

        Assert.Equal("""{"size":64,"count":300,"p50_ms":1,"p99_ms":2,"max_ms":3,"load_mb_per_s":450,"load_unloaded_mb_per_s":600,"load_kept_percent":75}""",
            latency.ToJson());
        Assert.EndsWith("(under a bulk transfer at 450.00 MB/s, 75.0 % of its 600.00 MB/s alone)", latency.ToString());
        // Without a baseline, neither figure is made up.
        var unmeasured = latency with { LoadUnloadedMegabytesPerSecond = null };
        Assert.Null(unmeasured.LoadKeptPercent);
        Assert.DoesNotContain("load_kept_percent", unmeasured.ToJson());
        Assert.EndsWith("(under a bulk transfer at 450.00 MB/s)", unmeasured.ToString());
    }

    [Fact]
    public void Bench_echo_refuses_a_load_baseline_that_is_not_a_duration()
    {
        var run = CliRun.Of("bench", "echo", "--target", "0123456789abcdef0123456789abcdef01234567@127.0.0.1:1", "--load-channel", "0x43", "--load-baseline", "soon");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tmactors bench echo: --load-baseline 'soon' is not a positive duration", run.Stderr);
    }

    [Fact]
    public void Throughput_json_has_exactly_the_documented_fields()
    {
        var json = new Throughput(200, 204800, 0.5).ToJson();

        Assert.Equal("""{"messages":200,"bytes":204800,"seconds":0.5,"mb_per_s":0.41}""", json);
        Assert.Equal(0, new Throughput(1, 10, 0).MegabytesPerSecond);
    }
}
