using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;
using Akka.Actor;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Diagnostics;
using TendermintActors.Node.Runtime;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Bench;

/// <summary>
/// What the soak target says of itself when asked (<c>sample</c> on its stdin): figures only the process itself can
/// tell. <see cref="Actors"/> counts every actor of its system, from the root guardian down (streams' stage actors
/// and Akka's own included); <see cref="GcHeapBytes"/> is <see cref="GC.GetTotalMemory(bool)"/> without a collection.
/// </summary>
internal sealed record SoakTargetSample(int Actors, long GcHeapBytes, int Gen0, int Gen1, int Gen2, long SinkMessages, long SinkBytes)
{
    /// <summary>
    /// The most numerous kinds of actor: paths with their numbers and IDs made <c>*</c> (<c>/user/p2p/switch/peer-*</c>),
    /// with how many there are; what grows, when the count does.
    /// </summary>
    public IReadOnlyDictionary<string, int> ActorKinds { get; init; } = new Dictionary<string, int>();

    public string ToJson() => JsonSerializer.Serialize(this, SoakJson.Default.SoakTargetSample);

    public static SoakTargetSample Parse(string line) =>
        JsonSerializer.Deserialize(line, SoakJson.Default.SoakTargetSample) ?? throw new FormatException($"not a soak target sample: {line}");
}

/// <summary>The sample's JSON, generated at build time (snake_case names), so that it needs no reflection.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(SoakTargetSample))]
internal sealed partial class SoakJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>
/// <c>tmactors bench soak-target</c> (hidden): <c>tmactors start</c> run in this process for <c>bench soak</c>, with PEX
/// and RPC on, an echo reactor on <see cref="SoakTarget.EchoChannel"/> and a sink on <see cref="SoakTarget.SinkChannel"/>,
/// the admission limits opened up for churning peers from one IP. It prints start's banner, then answers each
/// <c>sample</c> line on its stdin with one <see cref="SoakTargetSample"/> JSON line, and stops at the end of its stdin
/// or on SIGTERM.
/// </summary>
internal static partial class SoakTargetProcess
{
    /// <summary>The <c>--set</c>s that let <paramref name="peers"/> churning peers in from 127.0.0.1.</summary>
    internal static IReadOnlyList<string> Sets(int peers) =>
    [
        "tendermint.p2p.allow-duplicate-ip=on",
        "tendermint.p2p.addr-book-strict=off",
        // Hostile peers stall handshakes and churning ones overlap their successors: room for both.
        $"tendermint.p2p.max-num-inbound-peers={2 * peers + 10}",
        // Every connection comes from one IP, several a second for the whole run.
        "tendermint.p2p.max-incoming-connection-attempts=1000000",
        "tendermint.p2p.max-concurrent-handshakes=256",
    ];

    public static async Task<int> RunAsync(NodeHome home, int peers, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var options = new StartCommand.Options(home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "tcp://127.0.0.1:0",
            Pex = true,
            EchoChannel = SoakTarget.EchoChannel,
            SinkChannels = [SoakTarget.SinkChannel],
            Sets = Sets(peers),
            Log = LogOutput.Default with { Levels = LogLevels.All(Akka.Event.LogLevel.ErrorLevel) },
        };
        StartCommand.RunningNode node;
        try
        {
            node = await StartCommand.StartAsync(options, stdout, stderr, cancellation);
        }
        catch (StartCommand.StartFailedException e)
        {
            stderr.WriteLine($"tmactors bench soak-target: {e.Message}");
            return Cli.Failure;
        }
        await using (node)
        {
            try
            {
                while (await stdin.ReadLineAsync(cancellation) is { } line)
                {
                    if (line != "sample") continue;
                    var counts = await node.Sink!.Ask<SinkReactor.Counts>(SinkReactor.GetCounts.Instance, TimeSpan.FromSeconds(10), cancellation);
                    var kinds = CountActors(node.System);
                    var sample = new SoakTargetSample(kinds.Values.Sum(), GC.GetTotalMemory(forceFullCollection: false),
                        GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), counts.Messages, counts.Bytes)
                    {
                        ActorKinds = kinds.OrderByDescending(k => k.Value).Take(TopKinds).ToDictionary(k => k.Key, k => k.Value),
                    };
                    await stdout.WriteLineAsync(sample.ToJson());
                    await stdout.FlushAsync(cancellation);
                }
            }
            catch (OperationCanceledException)
            {
                // SIGTERM: stop as start does.
            }
        }
        return 0;
    }

    /// <summary>
    /// Every actor of the system, walked from the root guardian through each actor's children. The children are read
    /// from outside their parents, as Akka's own tree printing does: a snapshot good enough for a count, taken while
    /// peers come and go.
    /// </summary>
    internal static Dictionary<string, int> CountActors(ActorSystem system)
    {
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
        var pending = new Stack<IActorRef>();
        pending.Push(((ExtendedActorSystem)system).Provider.RootGuardian);
        while (pending.TryPop(out var actor))
        {
            var kind = Kind(actor.Path);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            if (actor is ActorRefWithCell withCell)
                foreach (var child in withCell.Children)
                    pending.Push(child);
        }
        return kinds;
    }

    private const int TopKinds = 8;

    /// <summary>An actor's path without the address, its numbers and IDs made <c>*</c>.</summary>
    internal static string Kind(ActorPath path) =>
        "/" + string.Join('/', path.Elements.Select(e => Numbers().Replace(e, "*")));

    [System.Text.RegularExpressions.GeneratedRegex("[0-9a-fA-F]{8,}|[0-9]+")]
    private static partial System.Text.RegularExpressions.Regex Numbers();
}

/// <summary>
/// The node <c>bench soak</c> runs against: <c>tmactors bench soak-target</c> as a child process (the same tmactors as
/// this one) on a throw-away home, so that its memory, descriptors and actors are its own, not the churning client's.
/// Stopped by closing its stdin, then SIGTERM, then SIGKILL.
/// </summary>
internal sealed class SoakTarget : IAsyncDisposable
{
    public const byte EchoChannel = 0x42;
    public const byte SinkChannel = 0x43;

    private readonly Process _process;
    private readonly string _home;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    private readonly Channel<string> _stderrTail = Channel.CreateBounded<string>(new BoundedChannelOptions(20) { FullMode = BoundedChannelFullMode.DropOldest });

    private SoakTarget(Process process, string home)
    {
        _process = process;
        _home = home;
    }

    public int Pid => _process.Id;
    public NetAddress Address { get; private set; } = null!;
    /// <summary>The RPC server, as <c>http://host:port/</c>.</summary>
    public Uri Rpc { get; private set; } = null!;

    public static async Task<SoakTarget> Start(string network, int peers, TimeSpan timeout, TextWriter stderr, CancellationToken cancellation)
    {
        var home = Path.Combine(Path.GetTempPath(), "tmactors-bench-soak-" + Guid.NewGuid().ToString("N")[..12]);
        if (InitCommand.Run(new InitCommand.Options(NodeHome.At(home), network, "soak-target"), TextWriter.Null, stderr) != 0)
            throw new InvalidOperationException($"could not create the target's home in {home}");
        var (fileName, prefix) = PeersBenchTarget.SelfCommand();
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in prefix.Concat(["bench", "soak-target", "--home", home, "--peers", peers.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            info.ArgumentList.Add(arg);
        var process = new Process { StartInfo = info };
        var target = new SoakTarget(process, home);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) target._stdout.Writer.TryComplete();
            else target._stdout.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) target._stderrTail.Writer.TryWrite(e.Data);
        };
        try
        {
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await target.ReadBanner(timeout, cancellation);
            return target;
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    /// <summary>The <c>Node ID:</c>, <c>Listening on:</c> and <c>RPC on:</c> lines of start's banner.</summary>
    private async Task ReadBanner(TimeSpan timeout, CancellationToken cancellation)
    {
        string? id = null;
        string? listening = null;
        while (true)
        {
            var line = await NextLine(timeout, "start", cancellation);
            if (line.StartsWith("Node ID: ", StringComparison.Ordinal))
                id = line["Node ID: ".Length..];
            else if (line.StartsWith("Listening on: ", StringComparison.Ordinal))
                listening = line["Listening on: ".Length..];
            else if (line.StartsWith("RPC on: tcp://", StringComparison.Ordinal) && id is not null && listening is not null)
            {
                Address = NetAddress.Parse($"{id}@{listening}");
                Rpc = new Uri("http://" + line["RPC on: tcp://".Length..] + "/");
                return;
            }
        }
    }

    /// <summary>Asks the target for its own figures.</summary>
    public async Task<SoakTargetSample> Sample(TimeSpan timeout, CancellationToken cancellation)
    {
        await _process.StandardInput.WriteLineAsync("sample".AsMemory(), cancellation);
        await _process.StandardInput.FlushAsync(cancellation);
        return SoakTargetSample.Parse(await NextLine(timeout, "answer", cancellation));
    }

    private async Task<string> NextLine(TimeSpan timeout, string what, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        try
        {
            if (await _stdout.Reader.WaitToReadAsync(deadline.Token) && _stdout.Reader.TryRead(out var line))
                return line;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"the soak target did not {what} within {timeout.TotalSeconds:0.###} s{StderrTail()}");
        }
        cancellation.ThrowIfCancellationRequested();
        await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        throw new InvalidOperationException($"the soak target exited with code {_process.ExitCode}{StderrTail()}");
    }

    private string StderrTail()
    {
        var lines = new List<string>();
        while (_stderrTail.Reader.TryRead(out var line)) lines.Add(line);
        return lines.Count == 0 ? "" : "; its stderr ends with:\n" + string.Join('\n', lines);
    }

    // The end of its stdin stops it as SIGTERM would; then SIGTERM, then SIGKILL.
    public async ValueTask DisposeAsync() => await ChildNode.StopAsync(_process, _home, () =>
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Its end of the pipe is gone already.
        }
    });
}
