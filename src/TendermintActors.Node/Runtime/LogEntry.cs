using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Akka.Event;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// The module a log event belongs to, as CometBFT names them: what an operator filters on with <c>--log_level</c>,
/// instead of actor paths. Decided by the class that logged (an actor's type, a stream stage's logic).
/// </summary>
internal static class LogModules
{
    public const string Main = "main";
    public const string P2P = "p2p";
    public const string Pex = "pex";
    public const string AddrBook = "addrbook";
    public const string Rpc = "rpc";
    public const string Akka = "akka";

    public static string Of(Type? logClass, string? logSource)
    {
        // Logging.GetLogger(system, "p2p") and the like: the source is the module.
        if (logSource is not null && LogLevels.Modules.Contains(logSource))
            return logSource;
        var name = logClass?.FullName ?? "";
        if (logClass?.Name.StartsWith("AddrBook", StringComparison.Ordinal) == true)
            return AddrBook; // the address book actor lives next to PEX (TendermintActors.Pex.Internal)
        if (name.StartsWith("TendermintActors.Pex.", StringComparison.Ordinal))
            return Pex;
        if (name.StartsWith("TendermintActors.Node.Rpc.", StringComparison.Ordinal))
            return Rpc;
        if (name.StartsWith("TendermintActors.Node.", StringComparison.Ordinal))
            return Main;
        if (name.StartsWith("TendermintActors.", StringComparison.Ordinal))
            return P2P; // switch, listener, handshakes, peers, their streams
        if (name.StartsWith("Akka.", StringComparison.Ordinal))
            return Akka;
        return Main;
    }
}

/// <summary>
/// One log event as operators see it. <see cref="Peer"/> and <see cref="Addr"/> come from the event's semantic
/// properties named <c>Peer</c> (a node ID, or an address whose ID is taken) and <c>Addr</c> (an address).
/// </summary>
internal sealed record LogEntry(DateTime Timestamp, LogLevel Level, string Module, string Message, string? Peer = null,
    string? Addr = null, Exception? Cause = null)
{
    public const string PeerProperty = "Peer";
    public const string AddrProperty = "Addr";

    public static LogEntry From(LogEvent e)
    {
        string? peer = null, addr = null;
        if (e.TryGetProperties(out var properties) && properties is not null)
        {
            if (properties.TryGetValue(PeerProperty, out var p) && p is not null)
            {
                (peer, var peerAddr) = Describe(p);
                addr = peerAddr;
            }
            if (properties.TryGetValue(AddrProperty, out var a) && a is not null)
            {
                var (addrId, hostPort) = Describe(a);
                addr = hostPort ?? addrId;
                peer ??= hostPort is null ? null : addrId;
            }
        }
        var timestamp = e.Timestamp.Kind == DateTimeKind.Local ? e.Timestamp.ToUniversalTime() : e.Timestamp;
        return new LogEntry(timestamp, e.LogLevel(), LogModules.Of(e.LogClass, e.LogSource), Render(e.Message), peer, addr, e.Cause);
    }

    /// <summary>A property's ID and host:port, as far as it has them.</summary>
    private static (string? Id, string? HostPort) Describe(object value) => value switch
    {
        NetAddress a => (a.Id.IsEmpty ? null : a.Id.Hex, a.HostPort),
        NodeId id => (id.Hex, null),
        EndPoint ep => (null, ep.ToString()),
        _ => (value.ToString(), null),
    };

    private static string Render(object? message)
    {
        try
        {
            return message?.ToString() ?? "";
        }
        catch (Exception e) when (e is FormatException)
        {
            return message is LogMessage m ? m.Format : "";
        }
    }
}

/// <summary>Renders <see cref="LogEntry"/>s as CometBFT does: plain lines or one JSON object per line.</summary>
internal static class LogLineFormatter
{
    // CometBFT's tmfmt pads the message so that the key=value pairs line up.
    private const int MessageWidth = 44;

    /// <summary>One line (no trailing newline); with <paramref name="withStack"/>, a cause's stack trace as well.</summary>
    public static string Format(LogFormat format, LogEntry entry, bool withStack = false) =>
        format == LogFormat.Json ? Json(entry, withStack) : Plain(entry, withStack);

    public static string Plain(LogEntry entry, bool withStack = false)
    {
        var sb = new StringBuilder();
        sb.Append(Letter(entry.Level)).Append('[')
            .Append(entry.Timestamp.ToString("yyyy-MM-dd|HH:mm:ss.fff", CultureInfo.InvariantCulture)).Append("] ");
        sb.Append(entry.Message.PadRight(MessageWidth)).Append(' ');
        Pair(sb, "module", entry.Module);
        if (entry.Peer is not null) Pair(sb, "peer", entry.Peer);
        if (entry.Addr is not null) Pair(sb, "addr", entry.Addr);
        if (entry.Cause is not null) Pair(sb, "err", entry.Cause.Message);
        sb.Length--; // the last pair's space
        if (withStack && entry.Cause is not null)
            sb.AppendLine().Append(entry.Cause);
        return sb.ToString();
    }

    public static string Json(LogEntry entry, bool withStack = false)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("ts", entry.Timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteString("level", Name(entry.Level));
            json.WriteString("module", entry.Module);
            json.WriteString("msg", entry.Message);
            if (entry.Peer is not null) json.WriteString("peer", entry.Peer);
            if (entry.Addr is not null) json.WriteString("addr", entry.Addr);
            if (entry.Cause is not null)
            {
                json.WriteString("err", entry.Cause.Message);
                if (withStack) json.WriteString("stack", entry.Cause.ToString());
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string Name(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "debug",
        LogLevel.InfoLevel => "info",
        LogLevel.WarningLevel => "warn",
        _ => "error",
    };

    private static char Letter(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => 'D',
        LogLevel.InfoLevel => 'I',
        LogLevel.WarningLevel => 'W',
        _ => 'E',
    };

    // logfmt: quote values with spaces, quotes or '='.
    private static void Pair(StringBuilder sb, string key, string value)
    {
        sb.Append(key).Append('=');
        if (value.Length > 0 && value.IndexOfAny([' ', '"', '=', '\n', '\r', '\t']) < 0)
            sb.Append(value);
        else
            // A JSON string, escaped as JsonSerializer would (the same default encoder), without starting the
            // reflection-based serializer and the code it compiles for one quoted value.
            sb.Append('"').Append(JsonEncodedText.Encode(value).Value).Append('"');
        sb.Append(' ');
    }
}
