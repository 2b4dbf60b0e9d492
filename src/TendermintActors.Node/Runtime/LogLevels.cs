using System.Diagnostics.CodeAnalysis;
using Akka.Event;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// CometBFT's <c>--log_level</c>: one level for every module (<c>info</c>), or <c>module:level</c> pairs with
/// <c>*</c> for the modules not named (<c>p2p:debug,pex:info,*:error</c>). Levels are debug, info, warn, error and
/// none; a null level below means none.
/// </summary>
internal sealed class LogLevels
{
    public const string Flag = "--log_level";

    /// <summary>The modules our log events are grouped in (see <see cref="LogModules"/>).</summary>
    public static readonly IReadOnlyList<string> Modules =
        [LogModules.Main, LogModules.P2P, LogModules.Pex, LogModules.AddrBook, LogModules.Rpc, LogModules.Akka];

    private const string LevelNames = "debug, info, warn, error, none";

    private readonly LogLevel? _default;
    private readonly IReadOnlyDictionary<string, LogLevel?> _modules;

    private LogLevels(LogLevel? defaultLevel, IReadOnlyDictionary<string, LogLevel?> modules)
    {
        _default = defaultLevel;
        _modules = modules;
    }

    /// <summary>Every module at <paramref name="level"/> (null: nothing is logged).</summary>
    public static LogLevels All(LogLevel? level) => new(level, new Dictionary<string, LogLevel?>());

    public static LogLevels Parse(string text) =>
        TryParse(text, out var levels, out var error) ? levels : throw new FormatException(error);

    public static bool TryParse(string text, [NotNullWhen(true)] out LogLevels? levels, [NotNullWhen(false)] out string? error)
    {
        levels = null;
        error = null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        // CometBFT's short form: a bare level applies to every module.
        if (parts.Length == 1 && !parts[0].Contains(':'))
        {
            if (!TryLevel(parts[0], out var only))
            {
                error = $"{Flag} '{text}': '{parts[0]}' is not a level ({LevelNames}), nor a list of module:level pairs";
                return false;
            }
            levels = All(only);
            return true;
        }

        LogLevel? defaultLevel = LogLevel.InfoLevel;
        var modules = new Dictionary<string, LogLevel?>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in parts)
        {
            var colon = part.IndexOf(':');
            if (colon <= 0 || colon == part.Length - 1)
            {
                error = $"{Flag} '{text}': '{part}' is not a module:level pair (e.g. p2p:debug or *:error)";
                return false;
            }
            var module = part[..colon].Trim().ToLowerInvariant();
            var levelText = part[(colon + 1)..].Trim();
            if (module != "*" && !Modules.Contains(module))
            {
                error = $"{Flag} '{text}': '{module}' is not a module ({string.Join(", ", Modules)}, or * for the rest)";
                return false;
            }
            if (!TryLevel(levelText, out var level))
            {
                error = $"{Flag} '{text}': '{levelText}' in '{part}' is not a level ({LevelNames})";
                return false;
            }
            if (!seen.Add(module))
            {
                error = $"{Flag} '{text}': module '{module}' is given twice";
                return false;
            }
            if (module == "*")
                defaultLevel = level;
            else
                modules[module] = level;
        }
        levels = new LogLevels(defaultLevel, modules);
        return true;
    }

    private static bool TryLevel(string text, out LogLevel? level)
    {
        level = null;
        switch (text.ToLowerInvariant())
        {
            case "debug": level = LogLevel.DebugLevel; return true;
            case "info": level = LogLevel.InfoLevel; return true;
            case "warn" or "warning": level = LogLevel.WarningLevel; return true;
            case "error": level = LogLevel.ErrorLevel; return true;
            case "none": return true;
            default: return false;
        }
    }

    /// <summary>The level a module logs at (null: none).</summary>
    public LogLevel? For(string module) => _modules.TryGetValue(module, out var level) ? level : _default;

    public bool IsEnabled(string module, LogLevel level) => For(module) is { } minimum && level >= minimum;

    /// <summary>
    /// The lowest level any module logs at: Akka's own <c>akka.loglevel</c>, so that actors do not even build the
    /// events no module shows (null: none at all).
    /// </summary>
    public LogLevel? Lowest
    {
        get
        {
            LogLevel? lowest = null;
            foreach (var level in _modules.Values.Append(_default))
                if (level is { } l && (lowest is null || l < lowest))
                    lowest = l;
            return lowest;
        }
    }

    /// <summary>The level for <c>akka.loglevel</c>.</summary>
    public string AkkaLogLevel => Lowest switch
    {
        null => "OFF",
        LogLevel.DebugLevel => "DEBUG",
        LogLevel.InfoLevel => "INFO",
        LogLevel.WarningLevel => "WARNING",
        _ => "ERROR",
    };

    /// <summary>These levels, with nothing below <paramref name="minimum"/> in any module.</summary>
    public LogLevels AtLeast(LogLevel minimum)
    {
        LogLevel? Raise(LogLevel? level) => level is { } l && l < minimum ? minimum : level;
        return new LogLevels(Raise(_default), _modules.ToDictionary(kv => kv.Key, kv => Raise(kv.Value)));
    }
}

/// <summary>CometBFT's <c>--log_format</c>.</summary>
internal enum LogFormat
{
    /// <summary>One line per event, as CometBFT prints them: <c>I[2026-12-06|01:02:03.456] msg module=p2p peer=...</c>.</summary>
    Plain,

    /// <summary>One JSON object per line: ts, level, module, msg, and peer/addr/err where they apply.</summary>
    Json,
}

internal static class LogFormats
{
    public const string Flag = "--log_format";

    public static bool TryParse(string text, out LogFormat format, [NotNullWhen(false)] out string? error)
    {
        error = null;
        switch (text.Trim().ToLowerInvariant())
        {
            case "plain": format = LogFormat.Plain; return true;
            case "json": format = LogFormat.Json; return true;
            default:
                format = default;
                error = $"{Flag} '{text}' is not a log format (plain or json)";
                return false;
        }
    }
}

/// <summary>What a command logs and how.</summary>
internal sealed record LogOutput(LogLevels Levels, LogFormat Format)
{
    public static readonly LogOutput Default = new(LogLevels.All(LogLevel.InfoLevel), LogFormat.Plain);

    /// <summary>The output for a command's <c>--log_level</c> and <c>--log_format</c> values (null: the default).</summary>
    public static bool TryParse(string? level, string? format, LogLevels defaultLevels, [NotNullWhen(true)] out LogOutput? output,
        [NotNullWhen(false)] out string? error)
    {
        output = null;
        var levels = defaultLevels;
        if (level is not null && !LogLevels.TryParse(level, out levels, out error))
            return false;
        var f = LogFormat.Plain;
        if (format is not null && !LogFormats.TryParse(format, out f, out error))
            return false;
        output = new LogOutput(levels!, f);
        error = null;
        return true;
    }
}
