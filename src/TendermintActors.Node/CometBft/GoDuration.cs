using System.Globalization;

namespace TendermintActors.Node.CometBft;

/// <summary>
/// Go's <c>time.ParseDuration</c> syntax, as CometBFT writes durations in config.toml (<c>"100ms"</c>, <c>"20s"</c>,
/// <c>"0s"</c>, <c>"1h30m0s"</c>), turned into one HOCON duration (HOCON has no compound form).
/// </summary>
internal static class GoDuration
{
    private const long NanosPerMicro = 1_000;
    private const long NanosPerMilli = 1_000_000;
    private const long NanosPerSecond = 1_000_000_000;
    private const long NanosPerMinute = 60 * NanosPerSecond;
    private const long NanosPerHour = 60 * NanosPerMinute;

    // Read with the longest matching suffix, so that "ms" is not taken for "m" followed by garbage.
    private static readonly (string Unit, long Nanos)[] Units =
    [
        ("ns", 1), ("us", NanosPerMicro), ("µs", NanosPerMicro), ("μs", NanosPerMicro), ("ms", NanosPerMilli),
        ("s", NanosPerSecond), ("m", NanosPerMinute), ("h", NanosPerHour),
    ];

    /// <summary>Parses a Go duration into whole nanoseconds (Go's own resolution); false for anything Go would refuse.</summary>
    public static bool TryParse(string text, out long nanoseconds)
    {
        nanoseconds = 0;
        var s = text.Trim();
        var negative = false;
        if (s.StartsWith('-') || s.StartsWith('+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s == "0")
            return true;
        if (s.Length == 0)
            return false;
        decimal total = 0;
        while (s.Length > 0)
        {
            var digits = 0;
            while (digits < s.Length && (char.IsAsciiDigit(s[digits]) || s[digits] == '.'))
                digits++;
            if (digits == 0 || !decimal.TryParse(s[..digits], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                return false;
            s = s[digits..];
            var unit = Units.Where(u => s.StartsWith(u.Unit, StringComparison.Ordinal)).OrderByDescending(u => u.Unit.Length).FirstOrDefault();
            if (unit.Unit is null)
                return false;
            s = s[unit.Unit.Length..];
            total += number * unit.Nanos;
            if (total > long.MaxValue)
                return false;
        }
        nanoseconds = (long)decimal.Truncate(negative ? -total : total);
        return true;
    }

    /// <summary>
    /// The duration in the largest unit that holds it exactly, as HOCON reads it: <c>90s</c>, <c>100ms</c>, <c>2h</c>;
    /// below a millisecond in <c>ns</c>, since Akka's HOCON does not read <c>us</c>.
    /// </summary>
    public static string ToHocon(long nanoseconds)
    {
        if (nanoseconds == 0)
            return "0s";
        (string Unit, long Nanos)[] units = [("h", NanosPerHour), ("m", NanosPerMinute), ("s", NanosPerSecond), ("ms", NanosPerMilli)];
        foreach (var (unit, nanos) in units)
            if (nanoseconds % nanos == 0)
                return (nanoseconds / nanos).ToString(CultureInfo.InvariantCulture) + unit;
        return nanoseconds.ToString(CultureInfo.InvariantCulture) + "ns";
    }
}
