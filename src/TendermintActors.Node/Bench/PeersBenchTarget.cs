using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Runtime;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Bench;

/// <summary>
/// What <c>/proc/&lt;pid&gt;</c> tells of a process at one moment: its resident memory and the CPU time it has used
/// (user + system). Linux only, as the figures of docs/performance.md are.
/// </summary>
internal readonly record struct ProcessSample(long RssKilobytes, TimeSpan Cpu)
{
    public static ProcessSample Of(int pid)
    {
        if (!OperatingSystem.IsLinux())
            throw new InvalidOperationException("bench peers reads the target's memory and CPU from /proc: it runs on Linux only");
        string status, stat;
        try
        {
            status = File.ReadAllText($"/proc/{pid}/status");
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read /proc/{pid} (is process {pid} running, and ours to read?): {e.Message}");
        }
        return new ProcessSample(ParseRss(status), ParseCpu(stat, ClockTicksPerSecond.Value));
    }

    /// <summary>The <c>VmRSS</c> line of <c>/proc/&lt;pid&gt;/status</c>, in kB.</summary>
    internal static long ParseRss(string status)
    {
        foreach (var line in status.Split('\n'))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            var value = line["VmRSS:".Length..].Trim();
            var space = value.IndexOf(' ');
            return long.Parse(space < 0 ? value : value[..space], NumberStyles.None, CultureInfo.InvariantCulture);
        }
        throw new FormatException("no VmRSS line in /proc/<pid>/status");
    }

    /// <summary>
    /// utime + stime (fields 14 and 15) of <c>/proc/&lt;pid&gt;/stat</c>. The command name (field 2) may hold spaces and
    /// parentheses, so the fields are counted from after its last ')'.
    /// </summary>
    internal static TimeSpan ParseCpu(string stat, long ticksPerSecond)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (the state), so field 14 is fields[11].
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds((double)ticks / ticksPerSecond);
    }

    private const int ScClkTck = 2; // _SC_CLK_TCK on Linux

    private static readonly Lazy<long> ClockTicksPerSecond = new(() => sysconf(ScClkTck) is var t and > 0 ? t : 100);

    [DllImport("libc", SetLastError = true)]
    private static extern long sysconf(int name);
}

/// <summary>
/// The node <c>bench peers</c> measures when it is not given one: <c>tmactors start</c> as a child process (the same
/// tmactors as this one) on a throw-away home, with an echo reactor, PEX and RPC off, and the admission limits opened
/// up for many peers from one IP. Stopped with SIGTERM, as a service manager stops a node.
/// </summary>
internal sealed class PeersBenchTarget : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _home;
    private readonly Channel<string> _stdout = Channel.CreateUnbounded<string>();
    // The last lines of its stderr, for the message when it fails to start.
    private readonly Channel<string> _stderrTail = Channel.CreateBounded<string>(new BoundedChannelOptions(20) { FullMode = BoundedChannelFullMode.DropOldest });

    private PeersBenchTarget(Process process, string home)
    {
        _process = process;
        _home = home;
    }

    public int Pid => _process.Id;
    public NetAddress Address { get; private set; } = null!;

    /// <summary>
    /// The <c>start</c> flags: echo on <paramref name="channel"/>, a sink on <paramref name="sinkChannels"/> if any, room
    /// for <paramref name="peers"/> inbound peers from 127.0.0.1.
    /// </summary>
    internal static IReadOnlyList<string> StartArguments(string home, byte channel, IReadOnlyList<byte> sinkChannels, int peers) =>
    [
        "start", "--home", home,
        "--p2p.laddr", "tcp://127.0.0.1:0",
        "--rpc.laddr", "",
        "--p2p.pex", "false",
        "--echo-channel", $"0x{channel:x2}",
        "--log-level", "error",
        // Every bench peer comes from 127.0.0.1.
        "--set", "tendermint.p2p.allow-duplicate-ip=on",
        "--set", "tendermint.p2p.addr-book-strict=off",
        "--set", $"tendermint.p2p.max-num-inbound-peers={peers + 10}",
        // All of them within a minute, from one IP.
        "--set", $"tendermint.p2p.max-incoming-connection-attempts={2 * peers + 100}",
        // Above the client's concurrent dials (PeersBench.Options.Concurrency), so none is refused for want of a slot.
        "--set", "tendermint.p2p.max-concurrent-handshakes=256",
        // Each batch of peers (--more-peers: two) read after its burst's garbage was collected, not the second one
        // before (by default at most one such collection in 5 minutes).
        "--set", "tendermint.p2p.gc-after-peer-burst.min-interval=1s",
        .. sinkChannels.Count == 0 ? (string[])[] : ["--sink-channel", string.Join(',', sinkChannels.Select(c => $"0x{c:x2}"))],
    ];

    /// <summary>How to run this tmactors again: the apphost or the natively compiled program itself, or <c>dotnet tmactors.dll</c>.</summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000",
        Justification = "An empty Location (natively compiled) is handled first: the process is then the program.")]
    internal static (string FileName, string[] Prefix) SelfCommand()
    {
        var assembly = typeof(Cli).Assembly.Location;
        if (assembly.Length == 0 && Environment.ProcessPath is { } program)
            return (program, []);
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == Path.GetFileNameWithoutExtension(assembly))
            return (self, []);
        if (Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet")
            return (host, [assembly]);
        // Run from another host (a test runner's): the dotnet the SDK names, else the one on the PATH.
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";
        return (dotnet, [assembly]);
    }

    public static async Task<PeersBenchTarget> Start(string network, byte channel, IReadOnlyList<byte> sinkChannels, int peers, TimeSpan timeout,
        TextWriter stderr, CancellationToken cancellation)
    {
        var home = Path.Combine(Path.GetTempPath(), "tmactors-bench-peers-" + Guid.NewGuid().ToString("N")[..12]);
        if (InitCommand.Run(new InitCommand.Options(NodeHome.At(home), network, "bench-target"), TextWriter.Null, stderr) != 0)
            throw new InvalidOperationException($"could not create the target's home in {home}");
        var (fileName, prefix) = SelfCommand();
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in prefix.Concat(StartArguments(home, channel, sinkChannels, peers)))
            info.ArgumentList.Add(arg);
        var process = new Process { StartInfo = info };
        var target = new PeersBenchTarget(process, home);
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
            target.Address = await target.ReadBanner(timeout, cancellation);
            return target;
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }
    }

    /// <summary>The <c>Node ID:</c> and <c>Listening on:</c> lines that <c>start</c> prints once it listens.</summary>
    private async Task<NetAddress> ReadBanner(TimeSpan timeout, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        string? id = null;
        try
        {
            await foreach (var line in _stdout.Reader.ReadAllAsync(deadline.Token))
            {
                if (line.StartsWith("Node ID: ", StringComparison.Ordinal))
                    id = line["Node ID: ".Length..];
                else if (line.StartsWith("Listening on: ", StringComparison.Ordinal) && id is not null)
                {
                    var hostPort = line["Listening on: ".Length..];
                    return NetAddress.Parse($"{id}@{hostPort}");
                }
            }
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"the target node did not start within {timeout.TotalSeconds:0.###} s{StderrTail()}");
        }
        cancellation.ThrowIfCancellationRequested();
        await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        throw new InvalidOperationException($"the target node exited with code {_process.ExitCode} before it listened{StderrTail()}");
    }

    private string StderrTail()
    {
        var lines = new List<string>();
        while (_stderrTail.Reader.TryRead(out var line)) lines.Add(line);
        return lines.Count == 0 ? "" : "; its stderr ends with:\n" + string.Join('\n', lines);
    }

    public async ValueTask DisposeAsync() => await ChildNode.StopAsync(_process, _home);
}
