using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// The configured Akka logger of the node process: it only completes Akka's logger handshake. Log events reach the
/// operator through <see cref="LogSink"/> instead, which is given the command's writer (a logger built by Akka from
/// a type name cannot be), so logs never land in the middle of localnet's live view.
/// </summary>
internal sealed class SilentLogger : ReceiveActor
{
    public SilentLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        ReceiveAny(_ => { });
    }
}

/// <summary>
/// Receives the system's log events, keeps those the <see cref="LogOutput"/>'s levels allow for their module, and
/// writes them in its format to a writer, or, while a live view owns the terminal (or a node is starting), keeps the
/// last few for later. Counts warnings and errors so that a command can say whether its run was clean. A cause is
/// written as its message (<c>err=...</c>); its stack trace only when the module logs at debug.
/// </summary>
internal sealed class LogSink : ReceiveActor
{
    public const int KeptLines = 50;

    /// <summary>Write held lines (if any) to the writer from now on.</summary>
    public sealed record Release
    {
        public static readonly Release Instance = new();
    }

    /// <summary>
    /// Drop the held lines and all that follow: a node that did not start says why in one line, and what its actors
    /// logged on the way (often the same failure) or log while the system stops would only repeat it or bury it.
    /// </summary>
    public sealed record Discard
    {
        public static readonly Discard Instance = new();
    }

    /// <summary>
    /// From now on show only errors: once a run is over, shutdown noise (e.g. Akka IO's "Bind commander died" when a
    /// listener stream stops with its switch) would bury the result without telling the operator anything.
    /// </summary>
    public sealed record ErrorsOnly
    {
        public static readonly ErrorsOnly Instance = new();
    }

    public sealed record GetCounts
    {
        public static readonly GetCounts Instance = new();
    }

    public sealed record Counts(int Warnings, int Errors);

    private readonly TextWriter _writer;
    private readonly LogFormat _format;
    private readonly Queue<string> _held = new();
    private bool _holding;
    private bool _discarding;
    private LogLevels _levels;
    private int _warnings;
    private int _errors;

    public LogSink(TextWriter writer, bool hold, LogOutput output)
    {
        _writer = writer;
        _holding = hold;
        _format = output.Format;
        _levels = output.Levels;
        Receive<LogEvent>(e =>
        {
            if (_discarding) return;
            var entry = LogEntry.From(e);
            // The event stream also carries events below the configured level (dead letters are published as Info).
            if (!_levels.IsEnabled(entry.Module, entry.Level)) return;
            if (entry.Level == LogLevel.ErrorLevel) _errors++;
            else if (entry.Level == LogLevel.WarningLevel) _warnings++;
            var line = LogLineFormatter.Format(_format, entry, withStack: _levels.For(entry.Module) == LogLevel.DebugLevel);
            if (!_holding)
            {
                _writer.WriteLine(line);
                return;
            }
            if (_held.Count == KeptLines) _held.Dequeue();
            _held.Enqueue(line);
        });
        Receive<Release>(_ =>
        {
            _holding = false;
            while (_held.TryDequeue(out var line)) _writer.WriteLine(line);
            Sender.Tell(Done.Instance);
        });
        Receive<Discard>(_ =>
        {
            _discarding = true;
            _held.Clear();
            Sender.Tell(Done.Instance);
        });
        Receive<ErrorsOnly>(_ => _levels = _levels.AtLeast(LogLevel.ErrorLevel));
        Receive<GetCounts>(_ => Sender.Tell(new Counts(_warnings, _errors)));
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(LogEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    public static Props Props(TextWriter writer, bool hold, LogOutput output) =>
        Akka.Actor.Props.Create(() => new LogSink(writer, hold, output));
}

/// <summary>Starting a command's <see cref="LogSink"/>.</summary>
internal static class LogSinks
{
    /// <summary>
    /// Starts a sink subscribed at once: its PreStart runs later, and whatever the actors started next log before
    /// then (the switch's "started" line) would be lost.
    /// </summary>
    public static IActorRef Start(ActorSystem system, TextWriter writer, bool hold, LogOutput output)
    {
        var sink = system.ActorOf(LogSink.Props(writer, hold, output), "log-sink");
        system.EventStream.Subscribe(sink, typeof(LogEvent));
        return sink;
    }
}

/// <summary>
/// The Akka settings of the node process: logs through <see cref="LogSink"/> only, Akka itself at the lowest level
/// any module logs at, a lean default mailbox; and, while the actor system is local and nothing asks it to serialise, no JSON serializer
/// (<see cref="LocalOnlySerializer"/>).
/// </summary>
internal static class NodeAkkaConfig
{
    private static readonly Config WithoutJson = ConfigurationFactory.ParseString(
        $"akka.actor.serializers.json = \"{typeof(LocalOnlySerializer).FullName}, {typeof(LocalOnlySerializer).Assembly.GetName().Name}\"");

    /// <summary>The node's default mailbox type: one consumer per queue, as Akka's ordinary dispatchers run actors.</summary>
    public const string LeanMailbox = "TendermintActors.Peers.Internal.SingleConsumerUnboundedMailbox, TendermintActors";

    /// <summary>The node's settings under <paramref name="operatorConfig"/> (the operator's win).</summary>
    public static Config Create(LogLevels levels, Config? operatorConfig = null)
    {
        var node = ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = {{levels.AkkaLogLevel}}
              stdout-loglevel = OFF
              loggers = ["{{typeof(SilentLogger).FullName}}, {{typeof(SilentLogger).Assembly.GetName().Name}}"]
              log-dead-letters-during-shutdown = off
              coordinated-shutdown.run-by-clr-shutdown-hook = on
              # Most of a node's actors (its peers and their stream interpreters) sit idle: a mailbox that holds one
              # small node when empty instead of a ~1 KiB queue segment (src/TendermintActors/Peers/Internal/
              # SingleConsumerUnboundedMailbox.cs).
              actor.default-mailbox.mailbox-type = "{{LeanMailbox}}"
            }
            """);
        var config = operatorConfig is null ? node : operatorConfig.WithFallback(node);
        return IsLocalWithoutSerialisation(config) ? config.WithFallback(WithoutJson) : config;
    }

    /// <summary>
    /// Whether the system is local (Akka's default provider) and nothing makes it serialise messages or props: a
    /// remote or cluster provider sends messages to other processes, and they keep Akka's serializers.
    /// </summary>
    internal static bool IsLocalWithoutSerialisation(Config config)
    {
        var provider = config.GetString("akka.actor.provider", "local");
        var local = provider is "local" || provider.StartsWith("Akka.Actor.LocalActorRefProvider", StringComparison.Ordinal);
        return local && !config.GetBoolean("akka.actor.serialize-messages", false)
            && !config.GetBoolean("akka.actor.serialize-creators", false);
    }
}
