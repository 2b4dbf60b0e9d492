using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace TendermintActors.Node.Tests;

/// <summary>
/// A fact that compiles tmactors natively: Linux with clang on the PATH, as .NET's native compiler needs there; skipped
/// (visibly) elsewhere, since xunit 2 cannot skip at run time.
/// </summary>
public sealed class NativeToolchainFactAttribute : FactAttribute
{
    public NativeToolchainFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = "a native tmactors is built and run here on Linux only";
        else if (Clang is null)
            Skip = "no clang (nor clang-N) on the PATH: .NET's native compiler links with it";
    }

    /// <summary>
    /// <c>clang</c>, else the newest versioned one (<c>clang-14</c>, as Debian installs it beside its tools without
    /// the plain name), which the publish then names (docs/native.md); null without either.
    /// </summary>
    internal static string? Clang { get; } = FindClang();

    private static string? FindClang()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(Directory.Exists).ToList();
        if (dirs.Any(dir => File.Exists(Path.Combine(dir, "clang"))))
            return "clang";
        var options = new EnumerationOptions { IgnoreInaccessible = true };
        return dirs.SelectMany(dir => Directory.EnumerateFiles(dir, "clang-*", options))
            .Select(Path.GetFileName)
            .Where(name => name is not null && name.Length > "clang-".Length && name["clang-".Length..].All(char.IsAsciiDigit))
            .OrderByDescending(name => int.Parse(name!["clang-".Length..]))
            .FirstOrDefault();
    }
}

/// <summary>
/// tmactors compiled natively, the way docs/native.md tells operators to
/// (<c>dotnet publish src/TendermintActors.Node -c Release -r linux-x64 -p:PublishAot=true</c>): the publish passes with
/// our own trim and AOT warnings as errors, and the program runs what would break first without a JIT or with types
/// trimmed away: Akka's start from HOCON (loggers, the mailbox and serializer chosen by type name), the handshakes and
/// PEX of a local network, Kestrel and the RPC's JSON, the Prometheus exporter, and the peers benchmark starting its
/// target as itself. The publish runs with <c>--artifacts-path</c> in a temp directory, as the tool package spec does,
/// so it shares no bin/ or obj/ with <c>dotnet test</c>.
/// </summary>
public sealed class NativeBuildSpecs : IDisposable
{
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    private readonly string _temp = Directory.CreateTempSubdirectory("tmactors-native-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [NativeToolchainFact]
    public async Task Tmactors_compiles_natively_and_runs_a_local_network_a_node_with_RPC_and_the_peers_benchmark()
    {
        var output = Path.Combine(_temp, "out");
        var publish = await Run(ChildProcesses.DotnetHost(),
            ["publish", "src/TendermintActors.Node/TendermintActors.Node.csproj", "-c", "Release",
             "-r", RuntimeInformation.RuntimeIdentifier, "-p:PublishAot=true",
             ..(NativeToolchainFactAttribute.Clang is "clang" ? [] : (string[])[$"-p:CppCompilerAndLinker={NativeToolchainFactAttribute.Clang}"]),
             "--artifacts-path", Path.Combine(_temp, "artifacts"), "-o", output,
             // One node and no build servers: nothing of this run outlives it.
             "-m:1", "--disable-build-servers", "-nologo"],
            PublishTimeout, ChildProcesses.RepoRoot(), withoutMSBuildSettings: true);
        Assert.True(publish.ExitCode == 0, $"dotnet publish exited {publish.ExitCode}:\n{publish.Stdout}\n{publish.Stderr}");
        var program = Path.Combine(output, "tmactors");
        Assert.True(File.Exists(program), $"no native program in {output}");
        Assert.False(File.Exists(Path.Combine(output, "tmactors.dll")), "the publish left a managed tmactors.dll: not compiled natively");

        var localnet = await Run(program, ["localnet"], RunTimeout, _temp);
        Assert.True(localnet.ExitCode == 0, $"localnet exited {localnet.ExitCode}:\n{localnet.Stdout}\n{localnet.Stderr}");
        Assert.Contains("every node heard from every other", localnet.Stdout);

        var bench = await Run(program, ["bench", "peers", "--peers", "20", "--idle", "--settle", "1s"], RunTimeout, _temp);
        Assert.True(bench.ExitCode == 0, $"bench peers exited {bench.ExitCode}:\n{bench.Stdout}\n{bench.Stderr}");
        Assert.Contains("20 peers connected", bench.Stdout);

        await A_node_serves_its_RPC_and_metrics(program);
    }

    private async Task A_node_serves_its_RPC_and_metrics(string program)
    {
        var home = Path.Combine(_temp, "home");
        var init = await Run(program, ["init", "--home", home], RunTimeout, _temp);
        Assert.True(init.ExitCode == 0, $"init exited {init.ExitCode}:\n{init.Stdout}\n{init.Stderr}");

        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _temp };
        foreach (var arg in (string[])["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--rpc.laddr", "tcp://127.0.0.1:0"])
            start.ArgumentList.Add(arg);
        var node = Process.Start(start)!;
        try
        {
            var stderr = node.StandardError.ReadToEndAsync();
            using var cancel = new CancellationTokenSource(RunTimeout);
            string? id = null, rpc = null;
            while (rpc is null && await node.StandardOutput.ReadLineAsync(cancel.Token) is { } line)
            {
                if (line.StartsWith("Node ID: ", StringComparison.Ordinal)) id = line["Node ID: ".Length..];
                if (line.StartsWith("RPC on: tcp://", StringComparison.Ordinal)) rpc = "http://" + line["RPC on: tcp://".Length..];
            }
            Assert.True(id is not null && rpc is not null, $"the node printed no ID or RPC address; stderr:\n{(node.HasExited ? await stderr : "")}");

            using var http = new HttpClient { BaseAddress = new Uri(rpc + "/"), Timeout = RunTimeout };
            var status = JsonNode.Parse(await http.GetStringAsync("status", cancel.Token))!;
            Assert.Equal(id, (string?)status["result"]!["node_info"]!["id"]);
            var netInfo = JsonNode.Parse(await http.GetStringAsync("net_info", cancel.Token))!;
            Assert.Equal("0", (string?)netInfo["result"]!["n_peers"]);
            Assert.Contains("cometbft_p2p_peers", await http.GetStringAsync("metrics", cancel.Token));
        }
        finally
        {
            ChildProcesses.KillAndDispose(node);
        }
    }

    private sealed record Outcome(int ExitCode, string Stdout, string Stderr);

    private static async Task<Outcome> Run(string fileName, string[] args, TimeSpan timeout, string workingDirectory, bool withoutMSBuildSettings = false)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        if (withoutMSBuildSettings)
            ChildProcesses.WithoutMSBuildSettings(start);
        var process = Process.Start(start)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cancel = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(cancel.Token);
            return new Outcome(process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            ChildProcesses.KillAndDispose(process);
        }
    }

}
