using System.Text.RegularExpressions;
using Akka.Configuration;
using TendermintActors.Node.Commands;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Tests;

public sealed partial class InitCommandSpecs : IDisposable
{
    private readonly TempHome _home = new();

    [GeneratedRegex("""^\{"priv_key":\{"type":"tendermint/PrivKeyEd25519","value":"(?<value>[A-Za-z0-9+/]{86}==)"\}\}$""")]
    private static partial Regex GoNodeKeyFormat();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex NodeIdFormat();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void Init_must_write_a_go_format_key_and_print_its_id_alone_on_the_last_line()
    {
        var run = CliRun.Of("init", "--home", _home.Root);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Stderr);
        var match = GoNodeKeyFormat().Match(File.ReadAllText(_home.NodeKeyFile));
        Assert.True(match.Success, "node_key.json is not in Go's exact format");
        Assert.Equal(64, Convert.FromBase64String(match.Groups["value"].Value).Length);
        Assert.Matches(NodeIdFormat(), run.LastLine);
        using var key = NodeKeyFile.Load(_home.NodeKeyFile);
        Assert.Equal(key.Id.Hex, run.LastLine);
    }

    [Fact]
    public void Init_must_write_the_key_with_owner_only_permissions()
    {
        if (OperatingSystem.IsWindows())
            return; // no Unix modes to check there

        Assert.Equal(0, CliRun.Of("init", "--home", _home.Root).ExitCode);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_home.NodeKeyFile));
    }

    [Fact]
    public void Init_must_write_a_node_conf_that_hocon_reads_back()
    {
        var run = CliRun.Of("init", "--home", _home.Root, "--network", "chain-7", "--moniker", "alpha node");

        Assert.Equal(0, run.ExitCode);
        var p2p = ConfigurationFactory.ParseString(File.ReadAllText(_home.NodeConfFile)).GetConfig("tendermint.p2p");
        Assert.Equal("alpha node", p2p.GetString("moniker"));
        Assert.Equal("chain-7", p2p.GetString("network"));
        Assert.Equal("config/node_key.json", p2p.GetString("node-key-file"));
        Assert.Equal("tcp://0.0.0.0:26656", p2p.GetString("laddr"));
    }

    [Fact]
    public void Init_must_comment_every_key_and_point_at_the_reference_conf()
    {
        Assert.Equal(0, CliRun.Of("init", "--home", _home.Root).ExitCode);

        var lines = File.ReadAllLines(_home.NodeConfFile);
        Assert.Contains(lines.TakeWhile(l => l.StartsWith('#')), l => l.Contains("hocon/reference.conf"));
        for (var i = 0; i < lines.Length; i++)
            if (lines[i].Contains(" = "))
                Assert.StartsWith("#", lines[i - 1].TrimStart());
    }

    [Fact]
    public void Init_must_default_to_test_net_and_a_printable_moniker()
    {
        Assert.Equal(0, CliRun.Of("init", "--home", _home.Root).ExitCode);

        var p2p = ConfigurationFactory.ParseString(File.ReadAllText(_home.NodeConfFile)).GetConfig("tendermint.p2p");
        Assert.Equal("test-net", p2p.GetString("network"));
        var moniker = p2p.GetString("moniker");
        Assert.NotEqual("", moniker.Trim());
        Assert.All(moniker, c => Assert.InRange(c, ' ', '~'));
    }

    [Fact]
    public void Init_must_keep_quotes_and_backslashes_in_the_moniker_intact()
    {
        const string moniker = """say "hi" \ ${not.a.substitution}""";

        Assert.Equal(0, CliRun.Of("init", "--home", _home.Root, "--moniker", moniker).ExitCode);

        var p2p = ConfigurationFactory.ParseString(File.ReadAllText(_home.NodeConfFile)).GetConfig("tendermint.p2p");
        Assert.Equal(moniker, p2p.GetString("moniker"));
    }

    [Fact]
    public void Init_must_refuse_to_replace_an_existing_key()
    {
        var first = CliRun.Of("init", "--home", _home.Root);
        var keyBefore = File.ReadAllBytes(_home.NodeKeyFile);

        var second = CliRun.Of("init", "--home", _home.Root);

        Assert.Equal(1, second.ExitCode);
        Assert.Contains(_home.NodeKeyFile, second.Stderr);
        Assert.Contains("already exists", second.Stderr);
        Assert.Equal("", second.Stdout);
        Assert.Equal(keyBefore, File.ReadAllBytes(_home.NodeKeyFile));
        Assert.Equal(first.LastLine, CliRun.Of("show-node-id", "--home", _home.Root).LastLine);
    }

    [Fact]
    public void Init_must_write_a_missing_key_and_leave_an_existing_node_conf_alone()
    {
        const string ownConf = "tendermint.p2p.moniker = \"mine\"\n";
        Directory.CreateDirectory(Path.GetDirectoryName(_home.NodeConfFile)!);
        File.WriteAllText(_home.NodeConfFile, ownConf);

        var run = CliRun.Of("init", "--home", _home.Root, "--moniker", "other");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(ownConf, File.ReadAllText(_home.NodeConfFile));
        Assert.Contains(run.StdoutLines, l => l.Contains(_home.NodeConfFile) && l.Contains("unchanged"));
        using var key = NodeKeyFile.Load(_home.NodeKeyFile);
        Assert.Equal(key.Id.Hex, run.LastLine);
    }

    [Theory]
    [InlineData("caf\u00e9")]
    [InlineData("   ")]
    [InlineData("")]
    [InlineData("tab\there")]
    public void Init_must_reject_a_moniker_that_go_would_reject(string moniker)
    {
        var run = CliRun.Of("init", "--home", _home.Root, "--moniker", moniker);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--moniker", run.Stderr);
        Assert.False(Directory.Exists(_home.Root), "nothing is written when the options are invalid");
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void Init_must_reject_an_empty_network(string network)
    {
        var run = CliRun.Of("init", "--home", _home.Root, "--network", network);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--network", run.Stderr);
        Assert.False(Directory.Exists(_home.Root));
    }

    [Fact]
    public void Init_must_accept_home_before_the_command_name()
    {
        var run = CliRun.Of("--home", _home.Root, "init");

        Assert.Equal(0, run.ExitCode);
        Assert.True(File.Exists(_home.NodeKeyFile));
    }

    [Fact]
    public void Init_must_report_a_home_it_cannot_create()
    {
        var blocker = Path.Combine(Path.GetDirectoryName(_home.Root)!, "a-file");
        File.WriteAllText(blocker, "");

        var run = CliRun.Of("init", "--home", blocker);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(blocker, run.Stderr);
    }

    [Theory]
    [InlineData("my-laptop", "my-laptop")]
    [InlineData("h\u00f4te\u00e9", "hte")]
    [InlineData(" box\u0007 ", "box")]
    [InlineData("\u00e9\u00e9", "tmactors")]
    [InlineData("", "tmactors")]
    [InlineData(null, "tmactors")]
    public void Default_moniker_must_be_the_host_name_reduced_to_printable_ascii(string? hostName, string expected) =>
        Assert.Equal(expected, InitCommand.DefaultMoniker(hostName));

    [Theory]
    [InlineData("/srv/node", "/root", "/srv/node")]
    [InlineData(null, "/root", "/root/.tmactors")]
    [InlineData("", "/root", "/root/.tmactors")]
    public void Home_must_default_to_TMHOME_then_the_user_directory(string? tmHome, string profile, string expected) =>
        Assert.Equal(Path.GetFullPath(expected), Path.GetFullPath(NodeHome.Default(null, tmHome, profile)));
}
