using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Channels;

namespace TendermintActors.Node.Tests;

/// <summary>
/// docs/quickstart-local-network.md, run as written: three <c>tmactors init</c>, then a seed and two nodes that know
/// only the seed, each a <c>tmactors start</c> child process; the two nodes must find each other through PEX, and each
/// process must stop cleanly on SIGTERM. The commands are built once, by <see cref="QuickStart"/>, for the test (free
/// ports, a temp folder) and for the document (its fixed ports), which must show exactly them.
/// </summary>
public sealed partial class QuickStartSpecs : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MeshTimeout = TimeSpan.FromSeconds(45);

    private readonly string _dir = Directory.CreateTempSubdirectory("tmactors-quickstart-").FullName;
    private readonly List<NodeProcess> _processes = [];
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>The quick-start's commands, as argument lists for <c>tmactors</c>.</summary>
    internal static class QuickStart
    {
        /// <summary>
        /// What a network on one machine needs: loopback addresses in the book (strict mode refuses them), several
        /// nodes behind one IP, and PEX rounds of seconds rather than Go's 30 s (the seed must use the same period:
        /// it judges a PexRequest that comes sooner than a third of its own period as abuse), dialling without the
        /// start jitter.
        /// </summary>
        public static readonly string[] LocalNetworkSettings =
        [
            "--set", "tendermint.p2p.addr-book-strict=off",
            "--set", "tendermint.p2p.allow-duplicate-ip=on",
            "--set", "tendermint.p2p.ensure-peers-period=2s",
            "--set", "tendermint.p2p.dial-start-jitter=0s",
        ];

        public static string[] Init(string home, string moniker) => ["init", "--home", home, "--moniker", moniker];

        public static string[] ShowNodeId(string home) => ["show-node-id", "--home", home];

        public static string[] StartSeed(string home, int p2pPort, int rpcPort) =>
        [
            "start", "--home", home, "--p2p.seed_mode", "true",
            "--p2p.laddr", $"tcp://127.0.0.1:{p2pPort}", "--rpc.laddr", $"tcp://127.0.0.1:{rpcPort}",
            .. LocalNetworkSettings,
        ];

        public static string[] StartNode(string home, string seed, int p2pPort, int rpcPort) =>
        [
            "start", "--home", home, "--p2p.seeds", seed,
            "--p2p.laddr", $"tcp://127.0.0.1:{p2pPort}", "--rpc.laddr", $"tcp://127.0.0.1:{rpcPort}",
            .. LocalNetworkSettings,
        ];
    }

    [Theory]
    [InlineData("docs/quickstart-local-network.md")]
    [InlineData("README.md")]
    public void The_document_shows_exactly_the_commands_the_test_runs(string document)
    {
        var doc = ShellText(File.ReadAllText(Path.Combine(ChildProcesses.RepoRoot(), document)));
        string[][] commands =
        [
            QuickStart.Init("localnet/seed", "seed"),
            QuickStart.Init("localnet/node1", "node1"),
            QuickStart.Init("localnet/node2", "node2"),
            QuickStart.StartSeed("localnet/seed", 26656, 26657),
            QuickStart.ShowNodeId("localnet/seed"),
            QuickStart.StartNode("localnet/node1", "\"$SEED\"", 26666, 26667),
            QuickStart.StartNode("localnet/node2", "\"$SEED\"", 26676, 26677),
        ];
        foreach (var command in commands)
            Assert.Contains("tmactors " + string.Join(' ', command), doc);
    }

    [Fact]
    public async Task A_seed_and_two_nodes_started_as_processes_form_a_mesh_through_PEX_and_stop_cleanly_on_SIGTERM()
    {
        var seedHome = Path.Combine(_dir, "localnet", "seed");
        var node1Home = Path.Combine(_dir, "localnet", "node1");
        var node2Home = Path.Combine(_dir, "localnet", "node2");
        await Task.WhenAll(
            RunToEnd(QuickStart.Init(seedHome, "seed")),
            RunToEnd(QuickStart.Init(node1Home, "node1")),
            RunToEnd(QuickStart.Init(node2Home, "node2")));

        // Port 0 everywhere: each process prints what it bound, and the nodes are given the seed's.
        var seed = await Start(QuickStart.StartSeed(seedHome, 0, 0));
        var seedId = (await RunToEnd(QuickStart.ShowNodeId(seedHome))).Trim();
        var seedAddress = $"{seedId}@127.0.0.1:{seed.P2PPort}";
        var nodes = await Task.WhenAll(
            Start(QuickStart.StartNode(node1Home, seedAddress, 0, 0)),
            Start(QuickStart.StartNode(node2Home, seedAddress, 0, 0)));

        // A second process on a running node's home is refused at once, naming the holder.
        var intruder = NodeProcess.Launch(QuickStart.StartNode(node1Home, seedAddress, 0, 0));
        _processes.Add(intruder);
        Assert.Equal(1, await intruder.Exited(ProcessTimeout));
        Assert.Contains($"home {node1Home} is in use by process {nodes[0].Pid}", intruder.Stderr);

        await AwaitAssert(async () =>
        {
            Assert.Contains(nodes[1].NodeId, await PeerIds(nodes[0]));
            Assert.Contains(nodes[0].NodeId, await PeerIds(nodes[1]));
        }, MeshTimeout);

        foreach (var process in (NodeProcess[])[.. nodes, seed])
            process.Terminate();
        foreach (var process in (NodeProcess[])[.. nodes, seed])
        {
            Assert.True(0 == await process.Exited(ProcessTimeout), $"exit code not 0; stderr:\n{process.Stderr}");
            Assert.Contains("Stopped.", process.Stdout);
        }
    }

    private async Task<NodeProcess> Start(string[] args)
    {
        var process = NodeProcess.Launch(args);
        _processes.Add(process);
        await process.Started(ProcessTimeout);
        return process;
    }

    private async Task<string> RunToEnd(string[] args)
    {
        var process = NodeProcess.Launch(args);
        _processes.Add(process);
        var code = await process.Exited(ProcessTimeout);
        Assert.True(code == 0, $"tmactors {string.Join(' ', args)} exited with {code}: {process.Stderr}");
        return process.Stdout;
    }

    private static async Task<IReadOnlyList<string>> PeerIds(NodeProcess node)
    {
        var body = JsonNode.Parse(await Http.GetStringAsync(new Uri(node.RpcUrl, "net_info")))!;
        return body["result"]!["peers"]!.AsArray().Select(p => (string)p!["node_info"]!["id"]!).ToList();
    }

    /// <summary>Retries the assertion until it holds or <paramref name="within"/> has passed (then its failure is thrown).</summary>
    private static async Task AwaitAssert(Func<Task> assertion, TimeSpan within)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Exception e) when (deadline.Elapsed < within && e is Xunit.Sdk.XunitException or HttpRequestException or TaskCanceledException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }
        }
    }

    /// <summary>The doc's shell text with continuation lines joined and runs of blanks made one space.</summary>
    private static string ShellText(string markdown) => Blanks().Replace(markdown.Replace("\\\n", " "), " ");

    [GeneratedRegex("[ \t]+")]
    private static partial Regex Blanks();

    public void Dispose()
    {
        // A failed test must not leave nodes running.
        foreach (var process in _processes)
            process.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { /* best effort */ }
    }

    /// <summary><c>dotnet tmactors.dll ARGS</c> as a child process, its output collected line by line.</summary>
    private sealed class NodeProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

        private NodeProcess(Process process) => _process = process;

        public int Pid => _process.Id;
        public string NodeId { get; private set; } = "";
        public int P2PPort { get; private set; }
        public Uri RpcUrl { get; private set; } = null!;

        public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
        public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

        public static NodeProcess Launch(string[] args)
        {
            // The Node assembly this test was built against, beside its runtimeconfig.json in the test's output.
            var info = new ProcessStartInfo(ChildProcesses.DotnetHost())
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(typeof(Cli).Assembly.Location);
            foreach (var arg in args)
                info.ArgumentList.Add(arg);
            var process = new Process { StartInfo = info };
            var node = new NodeProcess(process);
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) { node._lines.Writer.TryComplete(); return; }
                lock (node._stdout) node._stdout.AppendLine(e.Data);
                node._lines.Writer.TryWrite(e.Data);
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                    lock (node._stderr) node._stderr.AppendLine(e.Data);
            };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return node;
        }

        /// <summary>Reads the start banner: node ID, P2P listen address, RPC address.</summary>
        public async Task Started(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            try
            {
                await foreach (var line in _lines.Reader.ReadAllAsync(cancel.Token))
                {
                    if (line.StartsWith("Node ID: ", StringComparison.Ordinal))
                        NodeId = line["Node ID: ".Length..];
                    else if (line.StartsWith("Listening on: ", StringComparison.Ordinal))
                        P2PPort = int.Parse(line[(line.LastIndexOf(':') + 1)..]);
                    else if (line.StartsWith("RPC on: tcp://", StringComparison.Ordinal))
                    {
                        RpcUrl = new Uri("http://" + line["RPC on: tcp://".Length..] + "/");
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            throw new Xunit.Sdk.XunitException($"the node did not print its RPC address within {timeout}; stdout:\n{Stdout}\nstderr:\n{Stderr}");
        }

        public async Task<int> Exited(TimeSpan timeout)
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            return _process.ExitCode;
        }

        /// <summary>SIGTERM, as a service manager stops a node (Process.Kill would be SIGKILL: no clean stop).</summary>
        public void Terminate() => Assert.Equal(0, Kill(_process.Id, Sigterm));

        public void Dispose() => ChildProcesses.KillAndDispose(_process);

        private const int Sigterm = 15;

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int Kill(int pid, int signal);
    }
}
