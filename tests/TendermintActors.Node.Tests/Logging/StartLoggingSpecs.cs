using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Akka.Event;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Logging;

/// <summary>What <c>tmactors start</c> writes to stderr, in both formats.</summary>
public sealed class StartLoggingSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static TempHome InitHome(string moniker)
    {
        var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", moniker).ExitCode);
        return home;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Fact]
    public void A_port_already_in_use_is_one_error_line_without_a_stack_trace()
    {
        using var home = InitHome("taken");
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var run = CliRun.Of("start", "--home", home.Root, "--p2p.laddr", $"tcp://127.0.0.1:{port}", "--rpc.laddr", "");

        Assert.Equal(1, run.ExitCode);
        var line = Assert.Single(Lines(run.Stderr));
        Assert.StartsWith("E[", line);
        Assert.Contains($"the node did not start: cannot listen on 127.0.0.1:{port}: ", line);
        Assert.DoesNotContain("cannot listen on", line[(line.IndexOf("cannot listen on", StringComparison.Ordinal) + 1)..]); // said once
        Assert.EndsWith("module=main", line);
    }

    [Fact]
    public void A_port_already_in_use_is_one_json_error_object_with_log_format_json()
    {
        using var home = InitHome("taken-json");
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var run = CliRun.Of("start", "--home", home.Root, "--p2p.laddr", $"tcp://127.0.0.1:{port}", "--rpc.laddr", "", "--log_format", "json");

        Assert.Equal(1, run.ExitCode);
        using var json = JsonDocument.Parse(Assert.Single(Lines(run.Stderr)));
        Assert.Equal("error", json.RootElement.GetProperty("level").GetString());
        Assert.Equal("main", json.RootElement.GetProperty("module").GetString());
        Assert.StartsWith($"the node did not start: cannot listen on 127.0.0.1:{port}: ", json.RootElement.GetProperty("msg").GetString());
    }

    [Theory]
    [InlineData("--log_level", "p2p:verbose", "tmactors start: --log_level 'p2p:verbose': 'verbose' in 'p2p:verbose' is not a level")]
    [InlineData("--log_format", "xml", "tmactors start: --log_format 'xml' is not a log format (plain or json)")]
    public void A_bad_log_flag_fails_at_start_naming_the_flag(string flag, string value, string message)
    {
        using var home = InitHome("bad-log");
        var run = CliRun.Of("start", "--home", home.Root, flag, value);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, run.Stderr);
    }

    [Fact]
    public async Task A_running_node_logs_json_lines_by_module()
    {
        using var home = InitHome("json");
        var stderr = new StringWriter();
        var node = await StartCommand.StartAsync(new StartCommand.Options(home.Home)
        {
            ListenAddress = "tcp://127.0.0.1:0",
            RpcListenAddress = "",
            Log = new LogOutput(LogLevels.Parse("p2p:info,pex:info,main:warn,*:none"), LogFormat.Json),
            // A setting start warns about: the warning is a JSON line too.
            Sets = ["tendermint.p2p.max-packet-msg-payload-size=2048"],
        }, new StringWriter(), stderr, CancellationToken.None).WaitAsync(Timeout);
        await node.StopAsync().WaitAsync(Timeout);

        var lines = Lines(stderr.ToString());
        Assert.NotEmpty(lines);
        var objects = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(objects, o =>
        {
            foreach (var field in new[] { "ts", "level", "module", "msg" })
                Assert.True(o.TryGetProperty(field, out _), $"no {field} in {o}");
            Assert.Contains(o.GetProperty("module").GetString(), new[] { "p2p", "pex", "main" });
        });
        Assert.Contains(objects, o => o.GetProperty("module").GetString() == "p2p" && o.GetProperty("msg").GetString()!.StartsWith("P2P switch "));
        Assert.Contains(objects, o => o.GetProperty("module").GetString() == "pex" && o.GetProperty("msg").GetString()!.StartsWith("PEX started"));
        Assert.Contains(objects, o => o.GetProperty("module").GetString() == "main" && o.GetProperty("level").GetString() == "warn"
                                      && o.GetProperty("msg").GetString()!.StartsWith("tendermint.p2p.max-packet-msg-payload-size = 2048"));
    }
}
