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
/// Receives the system's log events at the configured level and writes them to a writer, or, while a live view owns
/// the terminal, keeps the last few for later. Counts errors so that a command can say whether its run was clean.
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
    private readonly Queue<string> _held = new();
    private bool _holding;
    private LogLevel _minimum;
    private int _warnings;
    private int _errors;

    public LogSink(TextWriter writer, bool hold)
    {
        _writer = writer;
        _holding = hold;
        // The event stream also carries events below the configured level (dead letters are published as Info).
        _minimum = Logging.LogLevelFor(Context.System.Settings.LogLevel);
        Receive<LogEvent>(e =>
        {
            if (e.LogLevel() < _minimum) return;
            if (e.LogLevel() == LogLevel.ErrorLevel) _errors++;
            else if (e.LogLevel() == LogLevel.WarningLevel) _warnings++;
            var line = e.ToString();
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
        Receive<ErrorsOnly>(_ => _minimum = LogLevel.ErrorLevel);
        Receive<GetCounts>(_ => Sender.Tell(new Counts(_warnings, _errors)));
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(LogEvent));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    public static Props Props(TextWriter writer, bool hold) => Akka.Actor.Props.Create(() => new LogSink(writer, hold));
}

/// <summary>
/// The Akka settings of the node process: logs at the given level through <see cref="LogSink"/> only.
/// </summary>
internal static class NodeAkkaConfig
{
    public static Config Create(string logLevel) => ConfigurationFactory.ParseString($$"""
        akka {
          loglevel = {{logLevel}}
          stdout-loglevel = OFF
          loggers = ["{{typeof(SilentLogger).FullName}}, {{typeof(SilentLogger).Assembly.GetName().Name}}"]
          log-dead-letters-during-shutdown = off
          coordinated-shutdown.run-by-clr-shutdown-hook = on
        }
        """);
}
