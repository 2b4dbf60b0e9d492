using System.CommandLine;
using System.Globalization;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Bench;

/// <summary><c>tmactors bench soak</c> and the hidden <c>bench soak-target</c> it runs as its target (<see cref="Soak"/>).</summary>
internal static class SoakCommand
{
    /// <summary>The most churning peers: each slot holds a connection (a stalled one for up to 20 s) and a node key.</summary>
    internal const int MaxPeers = 2000;

    public static Command Create()
    {
        var peers = new Option<string>("--peers") { Description = $"Peers churning at once (at most {MaxPeers}): each slot runs one connection after another", HelpName = "N", DefaultValueFactory = _ => "60" };
        var duration = new Option<string>("--duration") { Description = "How long the churn lasts", HelpName = "DURATION", DefaultValueFactory = _ => "1h" };
        var reportEvery = new Option<string>("--report-every") { Description = "Report the target's figures this often", HelpName = "DURATION", DefaultValueFactory = _ => "1m" };
        var warmup = new Option<string>("--warmup") { Description = "Reports before this are left out of the trends (default: a fifth of --duration)", HelpName = "DURATION" };
        var hostile = new Option<string>("--hostile") { Description = "Share of connections that misbehave (garbage after the handshake, an oversized packet, an unknown channel, a stalled handshake)", HelpName = "SHARE", DefaultValueFactory = _ => "0.2" };
        var kinds = new Option<string>("--hostile-kinds") { Description = "The hostile scenarios to run, comma-separated", HelpName = "LIST", DefaultValueFactory = _ => string.Join(',', SoakScenarios.Hostile) };
        var lifetime = new Option<string>("--lifetime") { Description = "A well-behaved peer stays connected for a random time in this range", HelpName = "MIN-MAX", DefaultValueFactory = _ => "5s-30s" };
        var interval = new Option<string>("--interval") { Description = "A well-behaved peer sends one message on each of the echo and sink channels per interval", HelpName = "DURATION", DefaultValueFactory = _ => "200ms" };
        var network = new Option<string>("--network") { Description = "Network (chain ID) of the target", HelpName = "NAME", DefaultValueFactory = _ => "test-net" };
        var timeout = new Option<string>("--timeout") { Description = "How long to wait for the target to start and answer, for a handshake, for a peer's last echoes, and for a hostile peer to be hung up on", HelpName = "DURATION", DefaultValueFactory = _ => "30s" };
        var output = new Option<string>("--out") { Description = "Write each report, then the summary, as JSON lines to this file", HelpName = "FILE" };
        var svg = new Option<string>("--svg") { Description = "Draw RSS, GC heap, peers, sockets and actors over time into this SVG file (default: --out with .svg)", HelpName = "FILE" };
        var command = new Command("soak", "Run a node with PEX under constant churn of well-behaved and hostile peers (as a child process); report its peers, actors, " +
                                          "descriptors, memory, message rate and stops by reason every --report-every, and PASS when none of them grows after the warm-up, " +
                                          "no well-behaved message was lost and RPC answered throughout");
        foreach (var option in new Option[] { peers, duration, reportEvery, warmup, hostile, kinds, lifetime, interval, network, timeout, output, svg })
            command.Options.Add(option);
        command.SetAction(async (parse, cancellation) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            int Fail(string message)
            {
                stderr.WriteLine($"tmactors bench soak: {message}");
                return Cli.Failure;
            }
            if (!int.TryParse(parse.GetValue(peers), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > MaxPeers)
                return Fail($"--peers '{parse.GetValue(peers)}' must be a whole number from 1 to {MaxPeers}");
            if (!TryPositive(parse.GetValue(duration), out var length)) return Fail($"--duration '{parse.GetValue(duration)}' is not a positive duration");
            if (!TryPositive(parse.GetValue(reportEvery), out var every)) return Fail($"--report-every '{parse.GetValue(reportEvery)}' is not a positive duration");
            if (every > length) return Fail($"--report-every {parse.GetValue(reportEvery)} is longer than --duration {parse.GetValue(duration)}");
            TimeSpan? warm = null;
            if (parse.GetValue(warmup) is { } w)
            {
                if (!Durations.TryParse(w, out var parsed, out _) || parsed >= length)
                    return Fail($"--warmup '{w}' must be a duration shorter than --duration");
                warm = parsed;
            }
            if (!double.TryParse(parse.GetValue(hostile), NumberStyles.Float, CultureInfo.InvariantCulture, out var share) || share is < 0 or > 1)
                return Fail($"--hostile '{parse.GetValue(hostile)}' must be a share from 0 to 1");
            var hostileKinds = parse.GetValue(kinds)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (hostileKinds.Length == 0 || hostileKinds.Any(k => !SoakScenarios.Hostile.Contains(k)))
                return Fail($"--hostile-kinds '{parse.GetValue(kinds)}' must list some of {string.Join(", ", SoakScenarios.Hostile)}");
            var range = parse.GetValue(lifetime)!.Split('-');
            if (range.Length != 2 || !TryPositive(range[0], out var min) || !TryPositive(range[1], out var max) || min > max)
                return Fail($"--lifetime '{parse.GetValue(lifetime)}' must be MIN-MAX, two positive durations such as 5s-30s");
            if (!TryPositive(parse.GetValue(interval), out var tick)) return Fail($"--interval '{parse.GetValue(interval)}' is not a positive duration");
            if (!TryPositive(parse.GetValue(timeout), out var wait)) return Fail($"--timeout '{parse.GetValue(timeout)}' is not a positive duration");
            var outPath = parse.GetValue(output);
            var svgPath = parse.GetValue(svg) ?? (outPath is null ? null : Path.ChangeExtension(outPath, ".svg"));
            var options = new Soak.Options(parse.GetValue(network)!, n, length, every, wait)
            {
                Warmup = warm, HostileShare = share, HostileKinds = hostileKinds, MinLifetime = min, MaxLifetime = max, Interval = tick, Out = outPath, Svg = svgPath,
            };
            using var signals = new ShutdownSignals(cancellation);
            return await RunAsync(options, parse.InvocationConfiguration.Output, stderr, signals.Token);
        });
        return command;
    }

    /// <summary>Runs the soak; 0 on PASS.</summary>
    public static async Task<int> RunAsync(Soak.Options options, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        try
        {
            var result = await Soak.RunAsync(options, stdout, stderr, cancellation);
            return result.Verdict.Pass ? 0 : Cli.Failure;
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidOperationException or OperationCanceledException or Akka.Actor.AskTimeoutException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"tmactors bench soak: {(e is OperationCanceledException ? "interrupted" : e.Message)}");
            return Cli.Failure;
        }
    }

    /// <summary>The hidden target command: see <see cref="SoakTargetProcess"/>.</summary>
    public static Command CreateTarget()
    {
        var home = new Option<string>("--home") { Required = true };
        var peers = new Option<int>("--peers") { DefaultValueFactory = _ => 60 };
        var command = new Command("soak-target", "The node bench soak runs (a tmactors start that answers 'sample' on its stdin)") { Hidden = true };
        command.Options.Add(home);
        command.Options.Add(peers);
        command.SetAction(async (parse, cancellation) =>
        {
            using var signals = new ShutdownSignals(cancellation);
            return await SoakTargetProcess.RunAsync(NodeHome.At(parse.GetValue(home)!), parse.GetValue(peers), Console.In,
                parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, signals.Token);
        });
        return command;
    }

    private static bool TryPositive(string? text, out TimeSpan value) =>
        Durations.TryParse(text, out value, out _) && value > TimeSpan.Zero;
}
