using System.Net;
using System.Text.Json;
using Akka.Event;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Rpc;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Logging;

public sealed class LogLineFormatterTests
{
    private static readonly DateTime At = new(2026, 12, 6, 1, 2, 3, 456, DateTimeKind.Utc);
    private const string Peer = "0123456789abcdef0123456789abcdef01234567";

    [Fact]
    public void A_json_line_is_one_object_with_ts_level_module_msg_and_the_peer_fields()
    {
        var line = LogLineFormatter.Json(new LogEntry(At, LogLevel.WarningLevel, "p2p", "Stopping peer \"x\"\n\t<é>", Peer, "10.0.0.1:26656",
            new IOException("connection reset")));

        Assert.DoesNotContain('\n', line);
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        Assert.Equal("2026-12-06T01:02:03.456Z", root.GetProperty("ts").GetString());
        Assert.Equal("warn", root.GetProperty("level").GetString());
        Assert.Equal("p2p", root.GetProperty("module").GetString());
        Assert.Equal("Stopping peer \"x\"\n\t<é>", root.GetProperty("msg").GetString());
        Assert.Equal(Peer, root.GetProperty("peer").GetString());
        Assert.Equal("10.0.0.1:26656", root.GetProperty("addr").GetString());
        Assert.Equal("connection reset", root.GetProperty("err").GetString());
        Assert.False(root.TryGetProperty("stack", out _));
    }

    [Fact]
    public void A_json_line_leaves_out_what_the_event_does_not_concern()
    {
        using var json = JsonDocument.Parse(LogLineFormatter.Json(new LogEntry(At, LogLevel.InfoLevel, "main", "started")));
        Assert.Equal(["ts", "level", "module", "msg"], json.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void A_plain_line_reads_like_CometBFT_with_quoted_values_where_needed()
    {
        var line = LogLineFormatter.Plain(new LogEntry(At, LogLevel.InfoLevel, "p2p", "Added peer", Peer, "10.0.0.1:26656",
            new IOException("connection reset")));

        Assert.StartsWith("I[2026-12-06|01:02:03.456] Added peer ", line);
        Assert.EndsWith($" module=p2p peer={Peer} addr=10.0.0.1:26656 err=\"connection reset\"", line);
        Assert.Equal('E', LogLineFormatter.Plain(new LogEntry(At, LogLevel.ErrorLevel, "main", "x"))[0]);
        Assert.Equal('D', LogLineFormatter.Plain(new LogEntry(At, LogLevel.DebugLevel, "main", "x"))[0]);
    }

    [Theory]
    [InlineData("connection reset")]
    [InlineData("said \"no\"")]
    [InlineData("a=b")]
    [InlineData("two\nlines\tand <é> \\ \u0001")]
    public void A_plain_value_that_needs_quotes_is_one_JSON_string_that_reads_back_as_the_value(string value)
    {
        var line = LogLineFormatter.Plain(new LogEntry(At, LogLevel.InfoLevel, "p2p", "x", Cause: new IOException(value)));

        Assert.DoesNotContain('\n', line);
        var quoted = line[(line.IndexOf(" err=", StringComparison.Ordinal) + " err=".Length)..];
        Assert.StartsWith("\"", quoted);
        Assert.Equal(value, JsonSerializer.Deserialize<string>(quoted));
    }

    [Fact]
    public void A_stack_trace_is_written_only_when_asked()
    {
        Exception cause;
        try { throw new InvalidOperationException("boom"); }
        catch (Exception e) { cause = e; }
        var entry = new LogEntry(At, LogLevel.ErrorLevel, "p2p", "failed", Cause: cause);

        Assert.DoesNotContain("\n", LogLineFormatter.Plain(entry));
        Assert.Contains(" at ", LogLineFormatter.Plain(entry, withStack: true));
        using var json = JsonDocument.Parse(LogLineFormatter.Json(entry, withStack: true));
        Assert.Contains(" at ", json.RootElement.GetProperty("stack").GetString());
    }

    [Fact]
    public void Log_sources_map_to_CometBFT_style_modules()
    {
        Assert.Equal("p2p", LogModules.Of(typeof(TendermintActors.Switching.SwitchActor), "akka://tmactors/user/p2p"));
        Assert.Equal("p2p", LogModules.Of(typeof(TendermintActors.Peers.Internal.PeerActor), "akka://tmactors/user/p2p/$c"));
        Assert.Equal("pex", LogModules.Of(typeof(TendermintActors.Pex.Internal.PexReactorActor), "akka://tmactors/user/p2p/pex"));
        Assert.Equal("addrbook", LogModules.Of(typeof(TendermintActors.Pex.Internal.AddrBookActor), "akka://tmactors/user/p2p/addrbook"));
        Assert.Equal("rpc", LogModules.Of(typeof(RpcServer), "rpc"));
        Assert.Equal("main", LogModules.Of(typeof(StartCommand), "start"));
        Assert.Equal("akka", LogModules.Of(typeof(Akka.Actor.ActorSystem), "akka://tmactors/system"));
        Assert.Equal("pex", LogModules.Of(typeof(object), "pex")); // Logging.GetLogger(system, "pex")
    }
}
