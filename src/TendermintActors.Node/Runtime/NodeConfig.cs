using System.Text.RegularExpressions;
using Akka.Configuration;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// Builds a node's configuration from its layers, highest precedence first: the <c>--set</c> overrides (a later
/// one wins over an earlier one), then the CometBFT-style flags, then the home's node.conf, then the embedded
/// reference. <c>--set</c> beats the flags because it is the explicit, any-key form: a script that sets both
/// means the <c>--set</c>.
/// </summary>
internal static partial class NodeConfig
{
    /// <summary>A value that HOCON reads as written (a number, a duration, on/off, a plain word, a list or object).</summary>
    [GeneratedRegex(@"^([A-Za-z0-9._+-]+|[\[{""].*)$", RegexOptions.Singleline)]
    private static partial Regex RawValue();

    [GeneratedRegex(@"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]
    private static partial Regex PlainPath();

    /// <summary>A HOCON string literal of <paramref name="value"/>, escaped so nothing in it is read as HOCON syntax.</summary>
    public static string Quote(string value)
    {
        var escaped = value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t");
        return "\"" + escaped + "\"";
    }

    /// <summary>
    /// One <c>--set path=value</c> as a config. A value that is not plainly a HOCON token is taken as a string, so
    /// <c>laddr=tcp://0.0.0.0:26656</c> does not lose everything after <c>//</c> (a HOCON comment).
    /// </summary>
    public static bool TryParseSet(string assignment, out Config config, out string? error)
    {
        config = Config.Empty;
        var eq = assignment.IndexOf('=');
        if (eq <= 0)
        {
            error = $"--set '{assignment}' must have the form path=value, e.g. tendermint.p2p.pex=off";
            return false;
        }
        var path = assignment[..eq].Trim();
        var value = assignment[(eq + 1)..].Trim();
        if (!PlainPath().IsMatch(path))
        {
            error = $"--set '{assignment}': '{path}' is not a HOCON path such as tendermint.p2p.max-num-inbound-peers";
            return false;
        }
        var literal = value.Length > 0 && RawValue().IsMatch(value) ? value : Quote(value);
        try
        {
            config = ConfigurationFactory.ParseString($"{path} = {literal}");
            error = null;
            return true;
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or ArgumentException)
        {
            error = $"--set '{assignment}': the value is not valid HOCON: {e.Message}";
            return false;
        }
    }

    /// <summary>Stacks configs so that each one wins over every one after it.</summary>
    public static Config Layer(params IEnumerable<Config> highestFirst)
    {
        var result = Config.Empty;
        foreach (var config in highestFirst)
            result = result.IsEmpty ? config : result.WithFallback(config);
        return result;
    }
}
