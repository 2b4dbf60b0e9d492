using System.Globalization;
using System.Text;
using Tomlyn;
using Tomlyn.Model;

namespace TendermintActors.Node.CometBft;

/// <summary>
/// What a CometBFT config.toml (v0.34 to v0.38, and Tendermint v0.35's dashed keys) means for our node.conf: the
/// <c>[p2p]</c> keys with an equivalent, the node's moniker and key file, and the RPC listen address. Pure: a parsed
/// TOML document in, HOCON settings and the keys left behind (each with its reason) out; the command does the I/O.
/// docs/cometbft-config.md has the same table for readers.
/// </summary>
internal static class CometBftConfig
{
    public const string P2PSection = "tendermint.p2p";
    public const string RpcSection = "tendermint.rpc";

    /// <summary>One HOCON setting: its full path, its value as HOCON text, and the TOML key it came from.</summary>
    public sealed record Setting(string Key, string Value, string Source);

    /// <summary>A TOML key that was not carried over, and why.</summary>
    public sealed record Unmapped(string Key, string Reason);

    /// <param name="Settings">In the order of the TOML document.</param>
    /// <param name="Unmapped">Every <c>[p2p]</c> key (and the few others we read) not carried over.</param>
    /// <param name="Errors">Values CometBFT itself would refuse (a duration that is not one, say): nothing should be written.</param>
    public sealed record Result(IReadOnlyList<Setting> Settings, IReadOnlyList<Unmapped> Unmapped, IReadOnlyList<string> Errors)
    {
        public string? ValueOf(string key) => Settings.LastOrDefault(s => s.Key == key)?.Value;
    }

    /// <summary>Parses config.toml's text; <see cref="FormatException"/> with the parser's position and message when it is not TOML.</summary>
    public static TomlTable Parse(string text)
    {
        try
        {
            return TomlSerializer.Deserialize<TomlTable>(text, CometBftToml.Default) ?? new TomlTable();
        }
        catch (TomlException e)
        {
            throw new FormatException(e.Message, e);
        }
    }

    private delegate Outcome Mapper(string source, object value);

    private abstract record Outcome;
    private sealed record To(string Key, string Value) : Outcome;
    private sealed record Skip(string Reason) : Outcome;
    private sealed record Bad(string Problem) : Outcome;

    /// <summary>
    /// CometBFT's <c>[p2p]</c> keys (underscored; Tendermint v0.35 wrote them with dashes, which are read alike) and what
    /// each becomes. Ours are the dashed forms in hocon/reference.conf.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, Mapper> P2PKeys = new Dictionary<string, Mapper>
    {
        ["laddr"] = Text("laddr"),
        ["external_address"] = Text("external-address"),
        ["seeds"] = Text("seeds"),
        ["persistent_peers"] = Text("persistent-peers"),
        ["upnp"] = (source, value) => AsBool(source, value) switch
        {
            To { Value: "on" } => new Skip("UPnP port forwarding is not supported; left off (forward the port yourself and set external_address)"),
            To off => off with { Key = P2P("upnp") },
            var bad => bad,
        },
        ["addr_book_file"] = Text("addr-book-file"),
        ["addr_book_strict"] = Flag("addr-book-strict"),
        ["max_num_inbound_peers"] = Whole("max-num-inbound-peers"),
        ["max_num_outbound_peers"] = Whole("max-num-outbound-peers"),
        ["unconditional_peer_ids"] = Text("unconditional-peer-ids"),
        ["persistent_peers_max_dial_period"] = Duration("persistent-peers-max-dial-period"),
        ["flush_throttle_timeout"] = Duration("flush-throttle-timeout"),
        ["max_packet_msg_payload_size"] = Whole("max-packet-msg-payload-size"),
        ["send_rate"] = Whole("send-rate"),
        ["recv_rate"] = Whole("recv-rate"),
        ["pex"] = Flag("pex"),
        ["seed_mode"] = Flag("seed-mode"),
        ["private_peer_ids"] = Text("private-peer-ids"),
        ["allow_duplicate_ip"] = Flag("allow-duplicate-ip"),
        ["handshake_timeout"] = Duration("handshake-timeout"),
        ["dial_timeout"] = Duration("dial-timeout"),
        // Tendermint v0.35's router options.
        ["max_connections"] = Whole("max-connections"),
        ["max_incoming_connection_attempts"] = Whole("max-incoming-connection-attempts"),
        ["queue_type"] = Text("queue-type"),
        ["use_legacy"] = Skipped("no equivalent: this node always runs the MConnection switch that use_legacy selected in v0.35 (the v0.34 wire protocol)"),
        ["bootstrap_peers"] = Skipped("no equivalent: nothing seeds the address book at start; list these addresses in seeds or persistent_peers"),
        ["max_outgoing_connections"] = Skipped("no equivalent in this form: max_num_outbound_peers bounds outbound peers"),
        // Go's test hooks.
        ["test_dial_fail"] = Skipped("a CometBFT test hook; not supported"),
        ["test_fuzz"] = Skipped("a CometBFT test hook; not supported"),
        ["test_fuzz_config"] = Skipped("a CometBFT test hook; not supported"),
    };

    /// <summary>Maps a parsed config.toml; never throws for content, it reports.</summary>
    public static Result Map(TomlTable document)
    {
        var settings = new List<Setting>();
        var unmapped = new List<Unmapped>();
        var errors = new List<string>();

        void Apply(string source, Outcome outcome)
        {
            switch (outcome)
            {
                case To to: settings.Add(new Setting(to.Key, to.Value, source)); break;
                case Skip skip: unmapped.Add(new Unmapped(source, skip.Reason)); break;
                case Bad bad: errors.Add($"{source} = {Show(document, source)}: {bad.Problem}"); break;
            }
        }

        if (document.TryGetValue("moniker", out var moniker))
            Apply("moniker", Text("moniker")("moniker", moniker));
        if (TryGet(document, "node_key_file", out var nodeKeyName, out var nodeKey))
            Apply(nodeKeyName, Text("node-key-file")(nodeKeyName, nodeKey));

        if (document.TryGetValue("p2p", out var p2pValue))
        {
            if (p2pValue is not TomlTable p2p)
                errors.Add("p2p: expected a table ([p2p])");
            else
                foreach (var (key, value) in p2p)
                {
                    var source = $"p2p.{key}";
                    var normalized = key.Replace('-', '_');
                    if (P2PKeys.TryGetValue(normalized, out var mapper))
                        Apply(source, mapper(source, value));
                    else
                        unmapped.Add(new Unmapped(source, "unknown: not a [p2p] key of CometBFT v0.34 to v0.38 (or Tendermint v0.35)"));
                }
        }

        if (document.TryGetValue("rpc", out var rpcValue) && rpcValue is TomlTable rpc)
        {
            if (rpc.TryGetValue("laddr", out var laddr))
                Apply("rpc.laddr", Map("laddr", RpcSection, AsText)("rpc.laddr", laddr));
            if (rpc.TryGetValue("unsafe", out var @unsafe))
                Apply("rpc.unsafe", Map("unsafe", RpcSection, AsBool)("rpc.unsafe", @unsafe));
        }

        return new Result(settings, unmapped, errors);
    }

    /// <summary>
    /// node.conf's text: the settings grouped by section, each under a comment naming its TOML key, and the keys
    /// not carried over listed as comments at the end.
    /// </summary>
    public static string ToHocon(Result result, string sourceDescription)
    {
        var text = new StringBuilder();
        text.AppendLine($"# Node configuration imported by 'tmactors config import' from {sourceDescription}.");
        text.AppendLine("# Every key, with its default and what it does, is listed in hocon/reference.conf.");
        foreach (var section in result.Settings.GroupBy(s => SectionOf(s.Key)))
        {
            text.AppendLine($"{section.Key} {{");
            foreach (var setting in section)
            {
                text.AppendLine($"  # from {setting.Source}");
                text.AppendLine($"  {setting.Key[(section.Key.Length + 1)..]} = {setting.Value}");
            }
            text.AppendLine("}");
        }
        if (result.Unmapped.Count > 0)
        {
            text.AppendLine("# Not imported:");
            foreach (var unmapped in result.Unmapped)
                text.AppendLine($"#   {unmapped.Key}: {unmapped.Reason}");
        }
        return text.ToString();
    }

    /// <summary>A HOCON quoted string: JSON's escaping, which HOCON shares.</summary>
    public static string Quote(string value) => System.Text.Json.Nodes.JsonValue.Create(value).ToJsonString();

    private static string SectionOf(string key) => key[..key.LastIndexOf('.')];

    private static string P2P(string key) => $"{P2PSection}.{key}";

    private static bool TryGet(TomlTable table, string underscored, out string name, out object value)
    {
        foreach (var candidate in new[] { underscored, underscored.Replace('_', '-') })
            if (table.TryGetValue(candidate, out value!))
            {
                name = candidate;
                return true;
            }
        name = underscored;
        value = null!;
        return false;
    }

    private static string Show(TomlTable document, string source)
    {
        object? value = document;
        foreach (var part in source.Split('.'))
            value = value is TomlTable t && t.TryGetValue(part, out var v) ? v : null;
        return value switch
        {
            string s => Quote(s),
            bool b => b ? "true" : "false",
            null => "(none)",
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
        };
    }

    private static Mapper Text(string ours) => Map(ours, P2PSection, AsText);
    private static Mapper Flag(string ours) => Map(ours, P2PSection, AsBool);
    private static Mapper Whole(string ours) => Map(ours, P2PSection, AsWhole);
    private static Mapper Duration(string ours) => Map(ours, P2PSection, AsDuration);
    private static Mapper Skipped(string reason) => (_, _) => new Skip(reason);

    private static Mapper Map(string ours, string section, Func<string, object, Outcome> convert) => (source, value) =>
        convert(source, value) switch
        {
            To to => to with { Key = $"{section}.{ours}" },
            var other => other,
        };

    // Go reads config.toml through viper, which takes "true" for a boolean and "40" for a number too.

    private static Outcome AsText(string source, object value) => value switch
    {
        string s => new To("", Quote(s)),
        _ => new Bad("expected a string"),
    };

    private static Outcome AsBool(string source, object value) => value switch
    {
        bool b => new To("", b ? "on" : "off"),
        string s when bool.TryParse(s, out var b) => new To("", b ? "on" : "off"),
        _ => new Bad("expected true or false"),
    };

    private static Outcome AsWhole(string source, object value) => value switch
    {
        long n => new To("", n.ToString(CultureInfo.InvariantCulture)),
        string s when long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) =>
            new To("", n.ToString(CultureInfo.InvariantCulture)),
        _ => new Bad("expected a whole number"),
    };

    private static Outcome AsDuration(string source, object value) => value switch
    {
        string s when GoDuration.TryParse(s, out var ns) => ns < 0
            ? new Bad("a duration must not be negative")
            : new To("", GoDuration.ToHocon(ns)),
        // A bare number is nanoseconds, as Go's time.Duration holds it.
        long ns when ns >= 0 => new To("", GoDuration.ToHocon(ns)),
        _ => new Bad("expected a Go duration such as \"100ms\", \"20s\" or \"1h0m0s\""),
    };
}

/// <summary>The TOML model, without reflection (a natively compiled node has none to spare).</summary>
[Tomlyn.Serialization.TomlSerializable(typeof(TomlTable))]
internal sealed partial class CometBftToml : Tomlyn.Serialization.TomlSerializerContext;
