using System.Globalization;

namespace TendermintActors.Node;

/// <summary>Command-line durations in the short form operators type: <c>500ms</c>, <c>30s</c>, <c>1m</c>, <c>2h</c>.</summary>
internal static class Durations
{
    public static bool TryParse(string? text, out TimeSpan duration, out string? error)
    {
        duration = default;
        var s = text?.Trim() ?? string.Empty;
        // "ms" before "m" and "s": the longest suffix decides.
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units)
        {
            if (!s.EndsWith(suffix, StringComparison.Ordinal))
                continue;
            var number = s[..^suffix.Length];
            if (double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) &&
                value > 0 && value * seconds <= TimeSpan.MaxValue.TotalSeconds / 2)
            {
                duration = TimeSpan.FromSeconds(value * seconds);
                error = null;
                return true;
            }
            break;
        }
        error = $"'{text}' is not a positive duration such as 500ms, 30s, 1m or 2h";
        return false;
    }
}
