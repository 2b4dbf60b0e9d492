using System.Text.Json;
using TendermintActors.Node.Bench;
using TendermintActors.Node.Commands;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Tests;

public sealed class PeersBenchSpecs
{
    // Upper bounds only: these start whole nodes (one as a child process) and connect a few dozen peers.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static readonly string[] TrafficFields =
        ["size", "interval_ms", "sent", "echoed", "seconds", "messages_per_s", "p50_ms", "p99_ms", "max_ms", "target_cpu_s", "target_cpu_us_per_msg", "rss_end_kb"];

    // No settling time: the figures' values do not matter here, only that they are measured and reported.
    private static PeersBench.Options Options(int peers) =>
        new("test-net", 0x42, peers, TimeSpan.FromSeconds(30)) { Settle = TimeSpan.Zero };

    private static JsonElement SingleJson(StringWriter stdout) =>
        JsonDocument.Parse(Assert.Single(stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))).RootElement;

    [Fact]
    public async Task Bench_peers_starts_its_own_target_and_reports_handshakes_memory_round_trips_and_cpu()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        // The target declares a Go node's channels too (a sink's), as with --target-channels go, and five more peers
        // connect after the first reading.
        var code = await BenchCommand.RunPeersAsync(
            Options(20) with { Duration = TimeSpan.FromSeconds(2), TargetChannels = PeersBench.Options.GoChannels, MorePeers = 5 },
            json: true, stdout, stderr, CancellationToken.None)
            .WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        var result = SingleJson(stdout);
        Assert.Equal(20, result.GetProperty("peers").GetInt32());
        Assert.True(result.GetProperty("handshakes_per_s").GetDouble() > 0);
        Assert.True(result.GetProperty("rss_before_kb").GetInt64() > 0);
        Assert.True(result.GetProperty("rss_connected_kb").GetInt64() > 0);
        Assert.True(result.TryGetProperty("kb_per_peer", out _));
        Assert.Equal(5, result.GetProperty("more_peers").GetInt32());
        Assert.True(result.GetProperty("rss_more_kb").GetInt64() > 0);
        Assert.True(result.TryGetProperty("marginal_kb_per_peer", out _));
        foreach (var field in TrafficFields)
            Assert.True(result.TryGetProperty(field, out _), field);
        var sent = result.GetProperty("sent").GetInt64();
        var echoed = result.GetProperty("echoed").GetInt64();
        Assert.True(echoed > 0 && echoed <= sent, $"{echoed} of {sent} echoed");
        Assert.True(result.GetProperty("p50_ms").GetDouble() <= result.GetProperty("p99_ms").GetDouble());
        Assert.True(result.GetProperty("p99_ms").GetDouble() <= result.GetProperty("max_ms").GetDouble());
        Assert.True(result.GetProperty("target_cpu_s").GetDouble() >= 0);
        Assert.Equal(0, result.GetProperty("dropped_peers").GetInt32());
    }

    [Fact]
    public async Task Bench_peers_idle_holds_peers_of_a_given_target_with_distinct_ids_and_sends_nothing()
    {
        using var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", "target").ExitCode);
        await using var node = await StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "",
            EchoChannel = 0x42,
            Sets = ["tendermint.p2p.allow-duplicate-ip=on"],
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        // The target runs in this process: its figures include the client's, which does not matter here.
        var code = await BenchCommand.RunPeersAsync(Options(10) with { Target = (NetAddress.Parse(node.PeerAddress), Environment.ProcessId), Idle = true },
            json: true, stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(code == 0, stderr.ToString());
        var result = SingleJson(stdout);
        Assert.Equal(10, result.GetProperty("peers").GetInt32());
        Assert.True(result.GetProperty("rss_connected_kb").GetInt64() > 0);
        foreach (var field in TrafficFields)
            Assert.False(result.TryGetProperty(field, out _), field);
        // Ten peers from one IP with the default duplicate-IP rule off would be refused: this target allows them,
        // and the switch refuses a duplicate ID, so ten peers held means ten node keys.
        Assert.Equal(0, result.GetProperty("dropped_peers").GetInt32());
    }

    [Theory]
    [InlineData(new[] { "--target", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1:26656" }, "--target needs --target-pid")]
    [InlineData(new[] { "--target-pid", "1" }, "--target-pid needs --target")]
    [InlineData(new[] { "--peers", "0" }, "--peers '0' must be a positive whole number")]
    [InlineData(new[] { "--peers", "20001" }, "--peers 20001 is too many (at most 20000)")]
    [InlineData(new[] { "--size", "4" }, "--size 4 is not a size from 8 to 1048576 bytes")]
    [InlineData(new[] { "--interval", "often" }, "--interval 'often' is not a positive duration")]
    [InlineData(new[] { "--duration", "long" }, "--duration 'long' is not a positive duration")]
    [InlineData(new[] { "--more-peers", "0" }, "--more-peers '0' must be a positive whole number")]
    [InlineData(new[] { "--peers", "20000", "--more-peers", "1" }, "--peers and --more-peers 20001 are too many (at most 20000)")]
    [InlineData(new[] { "--target-channels", "0x20,zz" }, "--target-channels 'zz' is not a channel ID")]
    [InlineData(new[] { "--target-channels", "0x20,0x42" }, "--target-channels has 0x42, the echo channel (--channel)")]
    [InlineData(new[] { "--target", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1:26656", "--target-pid", "1", "--target-channels", "go" },
        "--target-channels is for the target bench peers starts")]
    public void Bench_peers_refuses_a_bad_argument_naming_the_option(string[] arguments, string message)
    {
        var run = CliRun.Of(["bench", "peers", .. arguments]);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"tmactors bench peers: {message}", run.Stderr);
    }

    [Fact]
    public void Bench_peers_help_lists_its_options_with_their_defaults()
    {
        var run = CliRun.Of("bench", "peers", "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("[default: 1000]", Assert.Single(run.StdoutLines, l => l.StartsWith("--peers", StringComparison.Ordinal)));
        Assert.Contains("[default: 0x42]", Assert.Single(run.StdoutLines, l => l.StartsWith("--channel", StringComparison.Ordinal)));
        Assert.Single(run.StdoutLines, l => l.StartsWith("--idle", StringComparison.Ordinal));
        Assert.Single(CliRun.Of("bench", "--help").StdoutLines, l => l.StartsWith("peers", StringComparison.Ordinal));
    }

    [Fact]
    public void The_target_is_started_with_room_for_every_peer_from_one_ip()
    {
        var arguments = string.Join(' ', PeersBenchTarget.StartArguments("/tmp/home", 0x42, [], 1000));

        Assert.Contains("--echo-channel 0x42", arguments);
        Assert.DoesNotContain("--sink-channel", arguments);
        Assert.Contains("--sink-channel 0x00,0x20,0x21,0x22,0x23,0x30,0x38,0x40,0x60,0x61",
            string.Join(' ', PeersBenchTarget.StartArguments("/tmp/home", 0x42, PeersBench.Options.GoChannels, 1000)));
        Assert.Contains("--set tendermint.p2p.allow-duplicate-ip=on", arguments);
        Assert.Contains("--set tendermint.p2p.max-num-inbound-peers=1010", arguments);
        Assert.Contains("--set tendermint.p2p.max-incoming-connection-attempts=2100", arguments);
        Assert.Contains("--p2p.pex false", arguments);
        Assert.Contains("--set tendermint.p2p.gc-after-peer-burst.min-interval=1s", arguments);
    }

    [Fact]
    public void Process_figures_are_read_from_proc_status_and_stat()
    {
        Assert.Equal(153_600, ProcessSample.ParseRss("Name:\tdotnet\nVmPeak:\t  999 kB\nVmRSS:\t  153600 kB\nRssAnon:\t 1 kB\n"));
        // The command name may hold spaces and parentheses; utime (14) and stime (15) count from after the last ')'.
        var stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 8 0 1000 2000000 3000";
        Assert.Equal(TimeSpan.FromSeconds(3), ProcessSample.ParseCpu(stat, ticksPerSecond: 100));
        Assert.Throws<FormatException>(() => ProcessSample.ParseRss("Name:\tkthreadd\n"));
    }

    [Fact]
    public void The_report_reads_as_sentences_and_one_json_object()
    {
        var report = new PeersReport(300, 1.5, 100 * 1024, 140 * 1024)
        {
            TargetIdleCpuPercent = 2.5,
            Traffic = new PeersTraffic(64, TimeSpan.FromSeconds(1), 9000, 9000, 30, new Latency(64, 9000, 1, 5, 20), TimeSpan.FromSeconds(0.9), 150 * 1024),
        };

        Assert.Equal(
            """{"peers":300,"connect_s":1.5,"handshakes_per_s":200,"rss_before_kb":102400,"rss_connected_kb":143360,"kb_per_peer":136.5,"target_idle_cpu_pct":2.5,"size":64,"interval_ms":1000,"sent":9000,"echoed":9000,"seconds":30,"messages_per_s":300,"p50_ms":1,"p99_ms":5,"max_ms":20,"target_cpu_s":0.9,"target_cpu_us_per_msg":100,"rss_end_kb":153600,"dropped_peers":0}""",
            report.ToJson());
        Assert.StartsWith("300 peers connected in 1.50 s: 200.0 handshakes/s", report.ToString());
        Assert.Contains("136.5 KiB per peer", report.ToString());
        Assert.Contains("100.0 µs per message", report.ToString());
        Assert.Contains("2.5 % of a core", report.ToString());
        Assert.DoesNotContain("idle_cpu", new PeersReport(1, 1, 1, 1).ToJson()); // not measured without a settling time
        Assert.DoesNotContain("more", report.ToJson());

        var more = new PeersReport(300, 1.5, 100 * 1024, 140 * 1024) { More = (100, 150 * 1024) };
        Assert.Contains("\"kb_per_peer\":136.5,\"more_peers\":100,\"rss_more_kb\":153600,\"marginal_kb_per_peer\":102.4,", more.ToJson());
        Assert.Contains("100 more peers: target RSS 150.0 MiB: 102.4 KiB per peer more", more.ToString());
    }
}
