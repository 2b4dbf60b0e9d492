using System.CommandLine;
using System.Diagnostics.CodeAnalysis;

namespace TendermintActors.Node.Runtime;

/// <summary>The <c>--log_level</c> and <c>--log_format</c> flags of the commands that log (CometBFT's names).</summary>
internal static class LogFlags
{
    public static (Option<string> Level, Option<string> Format) Create(string defaultLevel) =>
        (new Option<string>(LogLevels.Flag, "--log-level")
        {
            Description = $"Log levels: one for all modules (debug, info, warn, error, none) or module:level pairs with * for the rest, " +
                          $"e.g. p2p:debug,*:error; modules: {string.Join(", ", LogLevels.Modules)}",
            HelpName = "LEVELS",
            DefaultValueFactory = _ => defaultLevel,
        },
        new Option<string>(LogFormats.Flag, "--log-format")
        {
            Description = "Log format: plain (CometBFT's lines) or json (one object per line)",
            HelpName = "FORMAT",
            DefaultValueFactory = _ => "plain",
        });

    public static bool TryParse(ParseResult parse, Option<string> level, Option<string> format, [NotNullWhen(true)] out LogOutput? output,
        [NotNullWhen(false)] out string? error) =>
        LogOutput.TryParse(parse.GetValue(level), parse.GetValue(format), LogOutput.Default.Levels, out output, out error);
}
