using System.Buffers.Binary;
using System.Text.Json;
using Akka.Actor;
using Akka.Streams;
using Akka.TestKit.Xunit2;
using TendermintActors.Node.Bench;
using TendermintActors.Node.Commands;
using TendermintActors.Protocol.Identity;
using TendermintActors.Streams;
using TendermintActors.Transport;

namespace TendermintActors.Node.Tests;

public sealed class SoakBenchSpecs : TestKit
{
    // An upper bound only: the smoke starts a node as a child process and churns peers for its duration.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);

    private static readonly string[] SampleFields =
        ["type", "t_s", "live_peers", "rpc_ms", "actors", "gc_heap_bytes", "sink_received", "fds", "sockets", "rss_kb", "cpu_s", "messages_per_s", "lost", "duplicates", "sink_sent", "connections", "stops"];

    [Fact]
    public async Task Bench_soak_smoke_reports_the_targets_figures_and_loses_no_well_behaved_message()
    {
        var dir = Directory.CreateTempSubdirectory("tmactors-soak-spec-");
        try
        {
            var jsonl = Path.Combine(dir.FullName, "soak.jsonl");
            var svg = Path.Combine(dir.FullName, "soak.svg");
            var options = new Soak.Options("test-net", 8, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(30))
            {
                Warmup = TimeSpan.FromSeconds(4),
                HostileShare = 0.3,
                MinLifetime = TimeSpan.FromSeconds(2),
                MaxLifetime = TimeSpan.FromSeconds(5),
                Out = jsonl,
                Svg = svg,
            };
            var stdout = new StringWriter();
            var stderr = new StringWriter();

            var result = await Soak.RunAsync(options, stdout, stderr, CancellationToken.None).WaitAsync(Timeout);

            // Shape: one JSON line per report, the final report after the churn, then the summary.
            var lines = File.ReadAllLines(jsonl).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(result.Samples.Count + 1, lines.Count);
            Assert.All(lines[..^2], l => Assert.Equal("sample", l.GetProperty("type").GetString()));
            Assert.Equal("final", lines[^2].GetProperty("type").GetString());
            Assert.Equal("summary", lines[^1].GetProperty("type").GetString());
            foreach (var line in lines[..^1])
                foreach (var field in SampleFields)
                    Assert.True(line.TryGetProperty(field, out _), $"{field} in {line}");
            Assert.All(lines[..^1], l => Assert.True(l.GetProperty("rss_kb").GetInt64() > 0 && l.GetProperty("actors").GetInt32() > 0));
            var summary = lines[^1];
            Assert.Contains(summary.GetProperty("verdict").GetString(), new[] { "PASS", "FAIL" });
            Assert.Equal(4, summary.GetProperty("trends").GetArrayLength());
            Assert.Contains(stdout.ToString().Split('\n'), l => l.Trim() is "PASS" or "FAIL");
            Assert.StartsWith("<svg", File.ReadAllText(svg));
            Assert.Contains("<polyline", File.ReadAllText(svg));

            // Messages: well-behaved peers ran, every echo came back in order, and the sink got every sink message.
            var tally = result.Tally;
            Assert.True(tally.Outcomes.GetValueOrDefault("well-behaved/ok") > 0, string.Join(", ", tally.Outcomes));
            Assert.True(tally.Echoed > 0);
            Assert.Equal(0, tally.Lost);
            Assert.Equal(0, tally.Duplicates);
            Assert.Equal(tally.Rejected, tally.Skipped);
            Assert.Equal(tally.SinkSent, result.Samples[^1].Target!.SinkMessages);
            Assert.DoesNotContain(tally.Outcomes.Keys, k => k.StartsWith("well-behaved/", StringComparison.Ordinal) && k != "well-behaved/ok");
            // Hostile peers were hung up on (or cut short by the end of the run), never left open.
            Assert.DoesNotContain(tally.Outcomes.Keys, k => k.EndsWith("/not-closed", StringComparison.Ordinal));
            Assert.DoesNotContain(result.Samples, s => s.RpcError is not null);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    // Fails today with the default transport (sockets): 3 to 7 of the 10 streams are still alive 30 s after their
    // connections closed. With tendermint.p2p.transport=akka-io it passes (see docs/soak.md).
    [Theory]
    [InlineData(SoakScenarios.UnknownChannel)]
    [InlineData(SoakScenarios.Oversized)]
    [InlineData(SoakScenarios.Garbage)]
    public async Task A_peer_stopped_for_a_protocol_violation_leaves_no_stream_actor_behind(string scenario)
    {
        using var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", "target").ExitCode);
        await using var node = await StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "",
            EchoChannel = SoakTarget.EchoChannel,
            Sets = ["tendermint.p2p.allow-duplicate-ip=on"],
        }, new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);
        int PeerStreams() => SoakTargetProcess.CountActors(node.System).Where(k => k.Key.Contains("-peer-", StringComparison.Ordinal)).Sum(k => k.Value);
        var target = NetAddress.Parse(node.PeerAddress);

        for (var i = 0; i < 10; i++)
        {
            var outcome = await SoakHostilePeer.RunAsync(new TcpTransport(), Sys.Materializer(), target, node.Settings.Network, scenario,
                TimeSpan.FromSeconds(30), CancellationToken.None).WaitAsync(Timeout);
            Assert.Equal("closed", outcome.Result);
        }

        // Every connection is closed; the stream that carried it should be gone too.
        await AwaitAssertAsync(() => Assert.Equal(0, PeerStreams()), Dilated(TimeSpan.FromSeconds(30)), Dilated(TimeSpan.FromMilliseconds(500)));
    }

    private static MConnection.MessagesReceived Echoes(params long[] seqs) =>
        new([.. seqs.Select(s =>
        {
            var message = new byte[16];
            BinaryPrimitives.WriteInt64LittleEndian(message, s);
            return new MConnection.ReceivedMessage(SoakTarget.EchoChannel, message);
        })]);

    [Fact]
    public void A_soak_peer_counts_echoes_in_order_and_tells_a_skipped_number_from_a_repeated_one()
    {
        var client = Sys.ActorOf(SoakClient.Props(TestActor, TimeSpan.FromSeconds(1), 64));

        client.Tell(Echoes(0, 1, 3, 3, 2, 4));
        Assert.Equal(4, ExpectMsg<SoakTally.Echoed>().Count); // one count per batch, repeats left out

        client.Tell(new SoakClient.Finish(TimeSpan.FromSeconds(30)));
        var result = ExpectMsg<SoakClient.Result>();
        Assert.Equal(4, result.Echoed); // 0, 1, 3, 4
        Assert.Equal(1, result.Skipped); // 2 was jumped over ...
        Assert.Equal(2, result.Duplicates); // ... so its late echo counts with the repeated 3
        Assert.Null(result.StopReason);
    }

    [Fact]
    public void A_soak_peer_reports_a_connection_the_target_ended_as_dropped()
    {
        var client = Sys.ActorOf(SoakClient.Props(TestActor, TimeSpan.FromSeconds(1), 64));

        client.Tell(new MConnection.Stopped(new IOException("reset by peer")));
        client.Tell(new SoakClient.Finish(TimeSpan.FromSeconds(30)));

        Assert.Equal("reset by peer", ExpectMsg<SoakClient.Result>().StopReason);
    }

    [Fact]
    public void A_trend_is_the_least_squares_slope_and_fails_past_its_allowed_growth()
    {
        // 100 + 2 per minute for 10 minutes: growth 20 over a mean of 110.
        var points = Enumerable.Range(0, 11).Select(m => (m * 60.0, 100 + 2.0 * m)).ToList();

        var trend = SoakTrend.Of("rss", "KiB", points, share: 0.10, floor: 0);

        Assert.Equal(2, trend.SlopePerMinute, 9);
        Assert.Equal(20, trend.Growth, 9);
        Assert.Equal(11, trend.AllowedGrowth, 9);
        Assert.False(trend.Pass);
        Assert.True(SoakTrend.Of("rss", "KiB", points, share: 0.10, floor: 10).Pass);
        // Up and down around a level is flat, whatever its noise.
        var noisy = Enumerable.Range(0, 10).Select(i => (i * 30.0, i % 2 == 0 ? 90.0 : 110.0)).ToList();
        Assert.True(SoakTrend.Of("actors", "actors", noisy, share: 0.10, floor: 0).Pass);
    }

    private static SoakTally.Snapshot Tally(long lost = 0, IReadOnlyDictionary<string, long>? outcomes = null) =>
        new(10, 10, outcomes ?? new Dictionary<string, long> { ["well-behaved/ok"] = 5 }, lost, 0, 0, 0, 0, 0, []);

    private static List<SoakSample> Flat(int count, string? rpcError = null) =>
        [.. Enumerable.Range(1, count).Select(i => new SoakSample(i * 10, false)
        {
            RssKb = 100_000, Fds = 200, Sockets = 20, LivePeers = 10, RpcMs = 1, RpcError = i == count ? rpcError : null,
            Target = new SoakTargetSample(300, 1_000_000, 1, 1, 1, 0, 0),
        })];

    [Fact]
    public void The_verdict_passes_flat_figures_and_fails_a_lost_message_an_rpc_failure_or_a_hostile_peer_left_open()
    {
        Assert.True(SoakVerdict.Of(Flat(6), 0, Tally()).Pass);
        Assert.Contains("3 echo-channel messages lost on well-behaved connections", SoakVerdict.Of(Flat(6), 0, Tally(lost: 3)).Failures);
        Assert.Contains("the target's RPC did not answer 1 of 6 reports", SoakVerdict.Of(Flat(6, "refused"), 0, Tally()).Failures);
        var open = new Dictionary<string, long> { ["well-behaved/ok"] = 5, ["stalled-handshake/not-closed"] = 2, ["garbage-after-handshake/closed"] = 4 };
        Assert.Equal(["2 × stalled-handshake/not-closed"], SoakVerdict.Of(Flat(6), 0, Tally(outcomes: open)).Failures);
        // Too few reports after the warm-up: no trend, no PASS.
        Assert.False(SoakVerdict.Of(Flat(6), 45, Tally()).Pass);
    }

    [Fact]
    public void Stops_by_reason_are_read_from_the_targets_metrics()
    {
        const string text = """
            # TYPE cometbft_p2p_peer_stops_total counter
            cometbft_p2p_peer_stops_total{chain_id="test-net",error="false",reason="closed",was_peer="true"} 52 1700000000000
            cometbft_p2p_peer_stops_total{chain_id="test-net",error="true",reason="protocol/unknown-channel",was_peer="true"} 2
            cometbft_p2p_peer_stops_total{chain_id="test-net",error="true",reason="transport/closed",was_peer="false"} 10
            cometbft_p2p_peers{chain_id="test-net"} 3
            """;

        var (stops, series) = Soak.Metrics(text);

        Assert.Equal(52, stops["closed"]);
        Assert.Equal(2, stops["protocol/unknown-channel"]);
        Assert.Equal(10, stops["transport/closed (no peer)"]);
        Assert.Equal(4, series);
    }

    [Fact]
    public void The_descriptors_of_a_process_are_counted_with_its_sockets()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();

        var (fds, sockets) = Soak.Descriptors(Environment.ProcessId);

        Assert.True(sockets > 0, "a listening socket is open");
        Assert.True(fds > sockets, "the process has descriptors other than sockets too");
    }

    [Theory]
    [InlineData(new[] { "--peers", "0" }, "--peers '0' must be a whole number from 1 to 2000")]
    [InlineData(new[] { "--duration", "forever" }, "--duration 'forever' is not a positive duration")]
    [InlineData(new[] { "--duration", "10s", "--report-every", "1m" }, "--report-every 1m is longer than --duration 10s")]
    [InlineData(new[] { "--hostile", "2" }, "--hostile '2' must be a share from 0 to 1")]
    [InlineData(new[] { "--lifetime", "30s-5s" }, "--lifetime '30s-5s' must be MIN-MAX, two positive durations such as 5s-30s")]
    [InlineData(new[] { "--duration", "1m", "--warmup", "2m" }, "--warmup '2m' must be a duration shorter than --duration")]
    public void Bench_soak_refuses_a_bad_argument_naming_the_option(string[] arguments, string message)
    {
        var run = CliRun.Of(["bench", "soak", .. arguments]);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"tmactors bench soak: {message}", run.Stderr);
    }
}
