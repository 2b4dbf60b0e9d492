using System.Text.RegularExpressions;
using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Node.Rpc;

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
        if (HoconSyntax.Check($"{path} = {literal}") is { } fault)
        {
            error = $"--set '{assignment}': the value is not valid HOCON: {fault.Problem}";
            return false;
        }
        try
        {
            config = HoconSyntax.Parse($"{path} = {literal}");
            if (UnknownKeys(config) is [_, ..] unknown)
            {
                error = string.Join("\n", unknown.Select(u => $"--set '{assignment}': {u.Key}: {u.Problem}"));
                return false;
            }
            error = null;
            return true;
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or ArgumentException)
        {
            error = $"--set '{assignment}': the value is not valid HOCON: {e.Message}";
            return false;
        }
    }

    /// <summary>The sections of <c>tendermint</c> the node reads; every key under them must be in the reference.</summary>
    public static readonly IReadOnlyList<string> Sections = [P2PSettings.Section, RpcSection];

    /// <summary>
    /// Where the node's defaults differ from the library's reference: a node process owns its heap, so it hands a burst
    /// of peers' garbage back to the OS and collects an idle node's garbage before the runtime's gen0 budget would
    /// (docs/performance.md, "Handing a burst's garbage back" and "Garbage between collections"); a host application
    /// embedding the library decides that for itself.
    /// </summary>
    public static readonly Config NodeDefaults = ConfigurationFactory.ParseString("""
        tendermint.p2p.gc-after-peer-burst.min-peers = 32
        tendermint.p2p.gc-when-idle.min-allocated = 1MiB
        """);

    /// <summary>The node's defaults over the library's reference: what a node runs with when nothing is set.</summary>
    public static Config Defaults() => NodeDefaults.WithFallback(P2PReferenceConfig.Load());

    public const string RpcSection = "tendermint.rpc";

    /// <summary>
    /// The keys of one layer (node.conf or one <c>--set</c>) that the reference does not have: under
    /// <c>tendermint.p2p</c> and <c>tendermint.rpc</c>, nested ones included, and sections of <c>tendermint</c> other
    /// than those (a misspelt <c>tendermint.rcp</c> would otherwise be ignored whole). Other top-level keys (<c>akka</c>)
    /// are left to their owners.
    /// </summary>
    public static IReadOnlyList<UnknownConfigKey> UnknownKeys(Config layer)
    {
        var unknown = new List<UnknownConfigKey>(P2PReferenceConfig.UnknownKeys(layer, "tendermint"));
        // Unknown() looks into the sections the reference has, so only the unknown sections are kept from this pass.
        unknown.RemoveAll(u => u.Key.Count(c => c == '.') > 1);
        foreach (var section in Sections)
            unknown.AddRange(P2PReferenceConfig.UnknownKeys(layer, section));
        return unknown;
    }

    /// <summary>
    /// The line of node.conf where <paramref name="key"/> is written, when one line plainly holds it (its full path,
    /// or its last segment, followed by <c>=</c>, <c>:</c>, <c>{</c> or a further segment); null otherwise. Akka's parser keeps no
    /// positions, so this is a search of the text.
    /// </summary>
    public static int? LineOf(string text, string key)
    {
        var last = key[(key.LastIndexOf('.') + 1)..];
        var pattern = new Regex(@"^\s*(""?)(" + Regex.Escape(key) + "|" + Regex.Escape(last) + @")\1\s*[=:{.]");
        var lines = text.Split('\n');
        var found = Enumerable.Range(0, lines.Length).Where(i => pattern.IsMatch(lines[i])).ToList();
        return found.Count == 1 ? found[0] + 1 : null;
    }

    /// <summary>The node's RPC server as <c>tendermint.rpc</c> configures it.</summary>
    internal sealed record RpcSettings(string ListenAddress, bool Unsafe)
    {
        /// <summary>Reads and checks <c>tendermint.rpc</c> from a configuration with the reference as its fallback.</summary>
        /// <exception cref="P2PConfigurationException">A key is missing or has a value not allowed.</exception>
        public static RpcSettings Create(Config config)
        {
            var laddr = Read(config, "laddr", "a string (\"\" turns the RPC server off)", static (c, k) => c.GetString(k));
            if (laddr.Length > 0)
            {
                try
                {
                    RpcServer.ParseListenAddress(laddr);
                }
                catch (FormatException e)
                {
                    // The parser's message starts with "rpc.laddr '...': ", which the key and value already say.
                    var problem = e.Message.IndexOf("': ", StringComparison.Ordinal) is var at and >= 0 ? e.Message[(at + 3)..] : e.Message;
                    throw new P2PConfigurationException($"{RpcSection}.laddr", laddr, problem + " (\"\" turns the RPC server off)", quoteValue: true);
                }
            }
            return new RpcSettings(laddr, Read(config, "unsafe", "on or off (or true/false)", static (c, k) => c.GetBoolean(k)));
        }

        private static T Read<T>(Config config, string relative, string expected, Func<Config, string, T> read)
        {
            var key = $"{RpcSection}.{relative}";
            var value = config.HasPath(key) ? config.GetValue(key) : null;
            if (value is null)
                throw new P2PConfigurationException(key, null, $"every key needs a value; the reference configuration ({nameof(P2PReferenceConfig)}) must be the fallback");
            try
            {
                if (value.IsObject() || value.IsArray())
                    throw new FormatException();
                return read(config, key) ?? throw new FormatException();
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidCastException or InvalidOperationException or ConfigurationException)
            {
                throw new P2PConfigurationException(key, value.IsObject() ? "{ ... }" : value.ToString(), $"must be {expected}", innerException: e);
            }
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
