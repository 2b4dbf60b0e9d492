using System.Net;
using System.Text.Json;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2;
using TendermintActors.Node.Runtime;
using TendermintActors.Protocol.Identity;
using Xunit.Abstractions;

namespace TendermintActors.Node.Tests.Logging;

/// <summary>The node's log sink fed by real logging adapters of our actor classes.</summary>
public sealed class LogSinkSpecs(ITestOutputHelper output) : TestKit("akka.loglevel = DEBUG", output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly NetAddress Address = NetAddress.Parse("0123456789abcdef0123456789abcdef01234567@10.0.0.1:26656");

    private ILoggingAdapter LoggerOf(Type actor, string path) =>
        new BusLogging(Sys.EventStream, $"akka://test/user/{path}", actor, Sys.Settings.LogFormatter);

    private ILoggingAdapter P2P => LoggerOf(typeof(TendermintActors.Switching.SwitchActor), "p2p/switch");
    private ILoggingAdapter Pex => LoggerOf(typeof(TendermintActors.Pex.Internal.PexReactorActor), "p2p/pex");

    private (IActorRef Sink, StringWriter Writer) Sink(string levels, LogFormat format = LogFormat.Plain, bool hold = false)
    {
        var writer = new StringWriter();
        // Akka's own events (the test system's) are not what these specs look at.
        var quiet = (levels.Contains(':') ? levels : $"*:{levels}") + ",akka:none";
        var sink = Sys.ActorOf(LogSink.Props(writer, hold, new LogOutput(LogLevels.Parse(quiet), format)));
        // Subscribed in PreStart: once it answers, events published from here on reach it.
        sink.Ask<LogSink.Counts>(LogSink.GetCounts.Instance, Timeout).Wait(Timeout);
        return (sink, writer);
    }

    /// <summary>The lines written so far: the sink handles the events published before it answers this.</summary>
    private static async Task<string[]> Lines(IActorRef sink, StringWriter writer)
    {
        await sink.Ask<LogSink.Counts>(LogSink.GetCounts.Instance, Timeout);
        return writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task A_module_at_debug_shows_its_debug_lines_while_star_error_hides_the_info_lines_of_the_rest()
    {
        var (sink, writer) = Sink("p2p:debug,*:error");
        P2P.Debug("Not dialling {Addr}: that is us", Address);
        Pex.Info("PEX started");
        Pex.Error("PEX: could not connect to any seed");

        var lines = await Lines(sink, writer);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("D[", lines[0]);
        Assert.Contains("Not dialling 0123456789abcdef0123456789abcdef01234567@10.0.0.1:26656: that is us", lines[0]);
        Assert.EndsWith("module=p2p peer=0123456789abcdef0123456789abcdef01234567 addr=10.0.0.1:26656", lines[0]);
        Assert.StartsWith("E[", lines[1]);
        Assert.EndsWith("module=pex", lines[1]);
    }

    [Fact]
    public async Task Json_lines_parse_and_carry_the_peer_the_event_concerns()
    {
        var (sink, writer) = Sink("info", LogFormat.Json);
        P2P.Info("Added peer {Peer} ({Direction}, {Addr})", Address.Id, "outbound", new IPEndPoint(IPAddress.Parse("10.0.0.1"), 26656));
        P2P.Warning("Stopping peer {Peer} for error: {Reason}", Address, "transport/closed: reset");
        Pex.Debug("hidden at info");
        P2P.Error(new IOException("boom"), "P2P listener failed");

        var lines = await Lines(sink, writer);
        Assert.Equal(3, lines.Length);
        var objects = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(objects, o =>
        {
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o.GetProperty("ts").GetString());
            Assert.Equal("p2p", o.GetProperty("module").GetString());
        });
        Assert.Equal("info", objects[0].GetProperty("level").GetString());
        Assert.Equal(Address.Id.Hex, objects[0].GetProperty("peer").GetString());
        Assert.Equal("10.0.0.1:26656", objects[0].GetProperty("addr").GetString());
        Assert.Equal("warn", objects[1].GetProperty("level").GetString());
        Assert.Equal(Address.Id.Hex, objects[1].GetProperty("peer").GetString());
        Assert.Equal("10.0.0.1:26656", objects[1].GetProperty("addr").GetString());
        Assert.Equal("error", objects[2].GetProperty("level").GetString());
        Assert.Equal("boom", objects[2].GetProperty("err").GetString());
        Assert.False(objects[2].TryGetProperty("stack", out _)); // p2p logs at info here: no stack trace
    }

    [Fact]
    public async Task Held_lines_are_written_on_release_and_dropped_with_everything_after_on_discard()
    {
        var (kept, keptWriter) = Sink("info", hold: true);
        Pex.Info("PEX started");
        await kept.Ask<Done>(LogSink.Release.Instance, Timeout);
        Assert.Single(await Lines(kept, keptWriter));

        var (dropped, droppedWriter) = Sink("info", hold: true);
        P2P.Error("P2P switch cannot listen on {Listen}: {Error}; stopping", "127.0.0.1:26656", "Address already in use");
        await dropped.Ask<Done>(LogSink.Discard.Instance, Timeout);
        P2P.Error("after the node gave up");
        Assert.Empty(await Lines(dropped, droppedWriter));
    }
}
