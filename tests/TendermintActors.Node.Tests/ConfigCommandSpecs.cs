using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests;

public sealed class ConfigCommandSpecs
{
    private static TempHome InitHome(string moniker = "cfg")
    {
        var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", moniker).ExitCode);
        return home;
    }

    private static void Append(TempHome home, string hocon) => File.AppendAllText(home.NodeConfFile, "\n" + hocon + "\n");

    private static int LineOf(TempHome home, string text) =>
        Array.FindIndex(File.ReadAllLines(home.NodeConfFile), l => l.Contains(text, StringComparison.Ordinal)) + 1;

    // --- unknown keys ---

    [Fact]
    public void Start_refuses_a_misspelt_key_in_node_conf_naming_file_line_key_and_the_key_meant()
    {
        using var home = InitHome();
        Append(home, "tendermint.p2p {\n  max-num-inbound-peer = 5\n}");
        var run = CliRun.Of("start", "--home", home.Root);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"'{home.NodeConfFile}' line {LineOf(home, "max-num-inbound-peer")}: tendermint.p2p.max-num-inbound-peer: " +
                        "unknown key; did you mean `max-num-inbound-peers`?", run.Stderr);
    }

    [Fact]
    public void Start_refuses_a_misspelt_key_given_with_set_naming_the_set()
    {
        using var home = InitHome();
        var run = CliRun.Of("start", "--home", home.Root, "--set", "tendermint.p2p.max-num-inbuond-peers=5");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--set 'tendermint.p2p.max-num-inbuond-peers=5': tendermint.p2p.max-num-inbuond-peers: " +
                        "unknown key; did you mean `max-num-inbound-peers`?", run.Stderr);
    }

    [Fact]
    public void CometBFTs_underscore_spelling_is_refused_with_the_dashed_key()
    {
        using var home = InitHome();
        var run = CliRun.Of("config", "check", "--home", home.Root, "--set", "tendermint.p2p.max_num_inbound_peers=5");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--set 'tendermint.p2p.max_num_inbound_peers=5': tendermint.p2p.max_num_inbound_peers: unknown key: this is CometBFT's spelling; write `max-num-inbound-peers`", run.Stderr);

        Append(home, "tendermint.p2p.addr_book_strict = off\ntendermint.p2p.persistent_peers = \"\"");
        run = CliRun.Of("config", "check", "--home", home.Root);
        Assert.Equal(1, run.ExitCode);
        // Every unknown key of the file is named, not only the first.
        Assert.Contains("tendermint.p2p.addr_book_strict: unknown key: this is CometBFT's spelling; write `addr-book-strict`", run.Stderr);
        Assert.Contains("tendermint.p2p.persistent_peers: unknown key: this is CometBFT's spelling; write `persistent-peers`", run.Stderr);
    }

    [Fact]
    public void Unknown_keys_are_found_in_tendermint_rpc_in_nested_objects_and_among_the_sections()
    {
        using var home = InitHome();
        Append(home, "tendermint.rpc.unsafee = on\ntendermint.p2p.metrics.per-peer-label = off\ntendermint.rcp.laddr = \"\"\nakka.loglevel = DEBUG");
        var run = CliRun.Of("config", "check", "--home", home.Root);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tendermint.rpc.unsafee: unknown key; did you mean `unsafe`?", run.Stderr);
        Assert.Contains("tendermint.p2p.metrics.per-peer-label: unknown key; did you mean `metrics.per-peer-labels`?", run.Stderr);
        Assert.Contains($"line {LineOf(home, "tendermint.rcp")}: tendermint.rcp: unknown key; did you mean `rpc`?", run.Stderr);
        Assert.DoesNotContain("akka", run.Stderr);
    }

    // --- malformed HOCON ---

    [Theory]
    [InlineData("tendermint.p2p {\n  moniker = \"a\"\n  seeds = [[[ ,\n}", 3, "'[' is not closed: the next closing bracket is '}'")]
    [InlineData("tendermint.p2p {\n  moniker = \"a\"\n  pex = on\n", 1, "'{' is never closed")]
    [InlineData("tendermint.p2p {\n  moniker = \"a\n  pex = on\n}", 2, "a quoted string is not closed on its line")]
    [InlineData("tendermint.p2p {\n  pex = on\n}\n}", 4, "'}' closes nothing")]
    public void Start_refuses_malformed_hocon_naming_the_file_and_the_line(string hocon, int line, string problem)
    {
        using var home = InitHome();
        File.WriteAllText(home.NodeConfFile, hocon);
        // Akka's parser alone never returns from the first case; the command must come back with the line.
        var run = CliRun.Of("start", "--home", home.Root);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"'{home.NodeConfFile}' line {line} is not valid HOCON: {problem}", run.Stderr);
    }

    [Fact]
    public void Start_refuses_an_include_naming_the_file()
    {
        using var home = InitHome();
        File.WriteAllText(home.NodeConfFile, "include \"common.conf\"\ntendermint.p2p.pex = on\n");
        // Akka's parser, given no way to read an included file, throws a NullReferenceException.
        var run = CliRun.Of("start", "--home", home.Root);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"'{home.NodeConfFile}' is not valid HOCON: 'include \"common.conf\"': a node's configuration cannot include other files", run.Stderr);
        Assert.DoesNotContain("NullReferenceException", run.Stderr);
    }

    [Fact]
    public void A_set_value_with_an_unclosed_bracket_is_refused_not_parsed_forever()
    {
        using var home = InitHome();
        var run = CliRun.Of("config", "show", "--home", home.Root, "--set", "tendermint.p2p.seeds=[[[ ,");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--set 'tendermint.p2p.seeds=[[[ ,': the value is not valid HOCON: '[' is never closed", run.Stderr);
    }

    [Theory]
    [InlineData("a = \"\"\"one\ntwo\"\"\"\nb = { c = [1, \"]\"] } # }\n// ]\nd = \"\\\"{\"")]
    [InlineData("a = \"\"\"x\"\"\"")]
    [InlineData("a = ${?b}\nc = \"tcp://x\"")]
    public void Hocon_syntax_accepts_strings_comments_and_substitutions_that_hold_brackets(string hocon) =>
        Assert.Null(HoconSyntax.Check(hocon));

    // --- numbers out of range ---

    [Fact]
    public void A_number_too_large_for_the_setting_says_the_range()
    {
        using var home = InitHome();
        Append(home, "tendermint.p2p.max-num-inbound-peers = 100000000000");
        var run = CliRun.Of("config", "check", "--home", home.Root);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tendermint.p2p.max-num-inbound-peers = 100000000000: must be at most 2147483647", run.Stderr);
    }

    // --- config show ---

    [Fact]
    public void Config_show_prints_hocon_that_parses_back_to_the_effective_values()
    {
        using var home = InitHome("shown");
        Append(home, "tendermint.p2p { seeds = [\"" + new string('a', 40) + "@1.2.3.4:26656\"], version = \"x # y\" }");
        string[] args = ["config", "show", "--home", home.Root, "--p2p.pex", "false", "--rpc.laddr", "tcp://127.0.0.1:0",
            "--set", "tendermint.p2p.handshake-timeout=7s", "--set", "tendermint.p2p.external-address=tcp://5.6.7.8:9"];
        var run = CliRun.Of(args);
        Assert.Equal(0, run.ExitCode);

        var shown = ConfigurationFactory.ParseString(run.Stdout);
        var effective = StartCommand.LoadConfig(new StartCommand.Options(home.Home)
        {
            Pex = false, RpcListenAddress = "tcp://127.0.0.1:0",
            Sets = ["tendermint.p2p.handshake-timeout=7s", "tendermint.p2p.external-address=tcp://5.6.7.8:9"],
        });
        var leaves = Leaves(P2PReferenceConfig.Load(), "tendermint").ToList();
        Assert.True(leaves.Count > 50, $"only {leaves.Count} keys");
        foreach (var key in leaves)
            Assert.Equal(Text(effective, key), Text(shown, key));
        // Only the tendermint sections, and what the layers set is what shows.
        Assert.Equal(["tendermint"], shown.Root.GetObject().Items.Keys.ToArray());
        Assert.Equal("shown", shown.GetString("tendermint.p2p.moniker"));
        Assert.False(shown.GetBoolean("tendermint.p2p.pex"));
        Assert.Equal("x # y", shown.GetString("tendermint.p2p.version"));
        Assert.Equal(TimeSpan.FromSeconds(7), shown.GetTimeSpan("tendermint.p2p.handshake-timeout"));
        Assert.Contains("handshake-timeout = 7s  # default: 20s", run.Stdout);
        // What shows is a configuration the node accepts.
        Assert.Equal("shown", P2PSettings.Create(shown.WithFallback(P2PReferenceConfig.Load())).Moniker);
    }

    [Fact]
    public void Config_show_refuses_what_start_refuses()
    {
        using var home = InitHome();
        var run = CliRun.Of("config", "show", "--home", home.Root, "--set", "tendermint.p2p.seed=x");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tmactors config show: --set 'tendermint.p2p.seed=x': tendermint.p2p.seed: unknown key; did you mean `seeds`?", run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    // --- config check ---

    [Fact]
    public void Config_check_says_OK_for_a_fresh_home()
    {
        using var home = InitHome();
        var run = CliRun.Of("config", "check", "--home", home.Root);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(ConfigCommand.Ok, run.LastLine);
    }

    [Fact]
    public void Config_check_reports_every_independent_error_and_fails()
    {
        using var home = InitHome();
        File.Delete(home.NodeKeyFile);
        var run = CliRun.Of("config", "check", "--home", home.Root, "--rpc.laddr", "tcp://nowhere:1", "--echo-channel", "0",
            "--set", "tendermint.p2p.pex-ban-time=0s");

        Assert.Equal(1, run.ExitCode);
        Assert.DoesNotContain(ConfigCommand.Ok, run.Stdout);
        Assert.Contains("tendermint.rpc.laddr = \"tcp://nowhere:1\": 'nowhere' is not an IP address", run.Stderr);
        Assert.Contains("tendermint.p2p.pex-ban-time = 0s: must be longer than 0s", run.Stderr);

        run = CliRun.Of("config", "check", "--home", home.Root, "--echo-channel", "0");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("channel 0x00 belongs to PEX", run.Stderr);
        Assert.Contains(home.NodeKeyFile, run.Stderr);
    }

    [Fact]
    public void Config_check_refuses_a_node_info_peers_would_refuse()
    {
        using var home = InitHome();
        var run = CliRun.Of("config", "check", "--home", home.Root, "--moniker", new string('m', 11_000));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("more than the 10240 peers accept", run.Stderr);
    }

    // --- tendermint.rpc ---

    [Fact]
    public void Rpc_settings_come_from_hocon_and_the_flags_override_them()
    {
        using var home = InitHome();
        Append(home, "tendermint.rpc { laddr = \"tcp://127.0.0.1:1234\", unsafe = on }");
        var fromFile = NodeConfig.RpcSettings.Create(StartCommand.LoadConfig(new StartCommand.Options(home.Home)));
        Assert.Equal(new NodeConfig.RpcSettings("tcp://127.0.0.1:1234", true), fromFile);

        var fromFlags = NodeConfig.RpcSettings.Create(StartCommand.LoadConfig(new StartCommand.Options(home.Home) { RpcListenAddress = "", RpcUnsafe = false }));
        Assert.Equal(new NodeConfig.RpcSettings("", false), fromFlags);

        var byDefault = NodeConfig.RpcSettings.Create(P2PReferenceConfig.Load());
        Assert.Equal(new NodeConfig.RpcSettings(TendermintActors.Node.Rpc.RpcServer.DefaultListenAddress, false), byDefault);
    }

    [Theory]
    [InlineData("laddr")]
    [InlineData("unsafe")]
    public void Every_rpc_key_is_read_and_has_no_default_in_code(string key)
    {
        var reference = P2PReferenceConfig.Text().Split('\n');
        var section = Array.FindIndex(reference, l => l.StartsWith("tendermint.rpc", StringComparison.Ordinal));
        var without = reference.Where((l, i) => !(i > section && l.TrimStart().StartsWith(key + " =", StringComparison.Ordinal)));
        var e = Assert.Throws<P2PConfigurationException>(() => NodeConfig.RpcSettings.Create(ConfigurationFactory.ParseString(string.Join('\n', without))));
        Assert.Equal($"tendermint.rpc.{key}", e.Key);
        Assert.Null(e.Value);
    }

    // --- home ---

    [Theory]
    [InlineData("/cmt", "/tm", "/cmt")]
    [InlineData(null, "/tm", "/tm")]
    [InlineData("", "/tm", "/tm")]
    [InlineData("/cmt", null, "/cmt")]
    [InlineData(null, null, "/root/.tmactors")]
    public void Home_defaults_to_CMTHOME_then_TMHOME_then_the_user_directory(string? cmtHome, string? tmHome, string expected) =>
        Assert.Equal(Path.GetFullPath(expected), Path.GetFullPath(NodeHome.Default(cmtHome, tmHome, "/root")));

    // --- docs ---

    [Fact]
    public void Docs_configuration_md_has_a_row_for_every_key_of_the_reference()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "hocon", "reference.conf")))
            dir = dir.Parent;
        Assert.NotNull(dir);
        var doc = File.ReadAllText(Path.Combine(dir.FullName, "docs", "configuration.md"));
        foreach (var section in NodeConfig.Sections)
        {
            var table = doc[doc.IndexOf($"### `{section}`", StringComparison.Ordinal)..];
            foreach (var key in Leaves(P2PReferenceConfig.Load(), section))
                Assert.Contains($"| `{key[(section.Length + 1)..]}` | `", table);
        }
    }

    private static IEnumerable<string> Leaves(Config config, string path)
    {
        foreach (var (name, value) in config.GetValue(path).GetObject().Items)
        {
            if (value.IsObject())
                foreach (var leaf in Leaves(config, $"{path}.{name}")) yield return leaf;
            else
                yield return $"{path}.{name}";
        }
    }

    private static string Text(Config config, string key)
    {
        var value = config.GetValue(key);
        return value.IsArray() ? string.Join("|", config.GetStringList(key)) : value.GetString();
    }
}
