using System.Globalization;
using System.Numerics;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace TendermintActors.Configuration;

/// <summary>
/// Reads the keys under one HOCON section and turns every problem (missing key, wrong type, out of range) into a
/// <see cref="P2PConfigurationException"/> naming the full key and the value as written. Deliberately takes no
/// defaults: a key that is missing means the reference config is not in the fallback chain.
/// </summary>
internal sealed class ConfigReader(Config config, string section)
{
    private const string DurationExamples = "a duration such as 500ms, 5s, 2m or 28h";

    public string Section { get; } = section;

    public string Key(string relative) => $"{Section}.{relative}";

    /// <summary>The value as written, for messages (null if the key is missing).</summary>
    public string? Raw(string relative)
    {
        var key = Key(relative);
        if (!config.HasPath(key))
            return null;
        var value = config.GetValue(key);
        if (value is null)
            return null;
        // An object prints over several lines; a placeholder is enough to recognise it. A literal null reads as null.
        if (value.IsObject())
            return "{ ... }";
        return value.IsArray() ? value.ToString() : value.GetString() ?? "null";
    }

    /// <summary>An error about the key's current value; <paramref name="quoted"/> asks to show a string value in quotes.</summary>
    public P2PConfigurationException Error(string relative, string problem, bool quoted = false) =>
        new(Key(relative), Raw(relative) ?? "", problem, quoted && IsText(relative));

    // Only a plain value is shown in quotes: a list, an object or a literal null is shown as it is.
    private bool IsText(string relative)
    {
        var key = Key(relative);
        var value = config.HasPath(key) ? config.GetValue(key) : null;
        return value is not null && !value.IsArray() && !value.IsObject() && value.GetString() is not null;
    }

    public int Int(string relative, int min, int max = int.MaxValue, string? note = null)
    {
        Overflow(relative, min, max, note);
        var value = Read(relative, "a whole number", static (c, k) => c.GetInt(k));
        if (value < min || value > max)
            throw Error(relative, Range(min, max, int.MaxValue, note));
        return value;
    }

    public long Long(string relative, long min, long max = long.MaxValue, string? note = null)
    {
        Overflow(relative, min, max, note);
        var value = Read(relative, "a whole number", static (c, k) => c.GetLong(k));
        if (value < min || value > max)
            throw Error(relative, Range(min, max, long.MaxValue, note));
        return value;
    }

    // A whole number beyond the type is out of range, not "not a whole number" (what the parser's overflow says).
    private void Overflow<T>(string relative, T min, T max, string? note) where T : IBinaryInteger<T>, IMinMaxValue<T>
    {
        var raw = Raw(relative)?.Trim();
        if (raw is null || !BigInteger.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            return;
        if (value > BigInteger.CreateTruncating(T.MaxValue))
            throw Error(relative, max == T.MaxValue ? $"must be at most {max.ToString(null, CultureInfo.InvariantCulture)}" + Note(note) : Range(min, max, T.MaxValue, note));
        if (value < BigInteger.CreateTruncating(T.MinValue))
            throw Error(relative, Range(min, max, T.MaxValue, note));
    }

    /// <summary>A byte size: a plain number or HOCON's units (1024, 64KiB, 1MiB).</summary>
    public long Bytes(string relative, long min, long max)
    {
        if (BigInteger.TryParse(Raw(relative)?.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)
            && (whole < min || whole > max))
            throw Error(relative, $"must be from {min} to {max} bytes");
        var value = Read(relative, "a size in bytes such as 1024, 64KiB or 1MiB", static (c, k) => c.GetByteSize(k))
            ?? throw Error(relative, "must be a size in bytes such as 1024, 64KiB or 1MiB");
        if (value < min || value > max)
            throw Error(relative, $"must be from {min} to {max} bytes");
        return value;
    }

    public bool Bool(string relative) =>
        Read(relative, "on or off (or true/false)", static (c, k) => c.GetBoolean(k));

    /// <summary>A duration of zero or more, and at most <paramref name="max"/> when given.</summary>
    public TimeSpan Duration(string relative, string? note = null, TimeSpan? max = null)
    {
        // Akka's parser refuses "-5s" with a bare FormatException; say what is wrong instead.
        if (Raw(relative)?.TrimStart().StartsWith('-') == true)
            throw Error(relative, "must not be negative" + Note(note));
        var value = Read(relative, DurationExamples, static (c, k) => c.GetTimeSpan(k, null, allowInfinite: false));
        if (value < TimeSpan.Zero)
            throw Error(relative, "must not be negative" + Note(note));
        if (value > max)
            throw Error(relative, $"must be at most {FormatDuration(max.Value)}" + Note(note));
        return value;
    }

    /// <summary>
    /// A duration that must be longer than zero (a timer or deadline of 0 would fire at once, or never), and at most
    /// <paramref name="max"/> when given.
    /// </summary>
    public TimeSpan PositiveDuration(string relative, TimeSpan? max = null)
    {
        var value = Duration(relative, max: max);
        if (value <= TimeSpan.Zero)
            throw Error(relative, "must be longer than 0s");
        return value;
    }

    private static string FormatDuration(TimeSpan value) =>
        value.Ticks % TimeSpan.TicksPerDay == 0 && value.TotalDays > 1 ? $"{value.TotalDays:0}d"
        : value.TotalHours >= 1 && value.TotalHours == Math.Floor(value.TotalHours) ? $"{value.TotalHours:0}h"
        : value.TotalSeconds >= 1 && value.TotalSeconds == Math.Floor(value.TotalSeconds) ? $"{value.TotalSeconds:0}s"
        : $"{value.TotalMilliseconds:0.###}ms";

    public string String(string relative)
    {
        var value = Value(relative);
        if (value.IsArray() || value.IsObject())
            throw Error(relative, "must be a string, not a list or an object");
        return value.GetString() ?? throw Error(relative, "must be a string (use \"\" for none)");
    }

    /// <summary>
    /// A list written as CometBFT writes it (one comma-separated string) or as a HOCON list; either way the
    /// result is one comma-separated string for the caller to split.
    /// </summary>
    public string ListText(string relative)
    {
        var value = Value(relative);
        if (value.IsObject())
            throw Error(relative, "must be a comma-separated string or a list of strings");
        if (value.IsArray())
        {
            var items = Read(relative, "a list of strings", static (c, k) => c.GetStringList(k));
            return string.Join(",", items);
        }
        return value.GetString() ?? "";
    }

    private HoconValue Value(string relative)
    {
        var key = Key(relative);
        return (config.HasPath(key) ? config.GetValue(key) : null) ?? throw Missing(key);
    }

    private T Read<T>(string relative, string expected, Func<Config, string, T> read)
    {
        // Checked first because Akka's getters return 0/false/empty for a missing key rather than failing.
        Value(relative);
        try
        {
            return read(config, Key(relative));
        }
        catch (Exception e) when (e is FormatException or OverflowException or NotSupportedException
                                      or ArgumentException or InvalidCastException or InvalidOperationException
                                      or ConfigurationException)
        {
            throw new P2PConfigurationException(Key(relative), Raw(relative) ?? "", $"must be {expected}", innerException: e);
        }
    }

    private P2PConfigurationException Missing(string key) =>
        new(key, null, $"every key needs a value; build the configuration with {nameof(P2PReferenceConfig)}.{nameof(P2PReferenceConfig.Load)}() as its fallback, where each key has its default");

    private static string Range<T>(T min, T max, T unbounded, string? note) where T : IEquatable<T>, IFormattable =>
        (max.Equals(unbounded)
            ? $"must be {min.ToString(null, CultureInfo.InvariantCulture)} or more"
            : $"must be from {min.ToString(null, CultureInfo.InvariantCulture)} to {max.ToString(null, CultureInfo.InvariantCulture)}")
        + Note(note);

    private static string Note(string? note) => note is null ? "" : $" ({note})";
}
