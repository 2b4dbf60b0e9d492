using System.CommandLine;
using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Node.Commands;

namespace TendermintActors.Node.Tests;

public sealed class ConfigImportCommandSpecs : IDisposable
{
    private static readonly string FixturePath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "cometbft-v0.38-config.toml");

    private readonly TempHome _home = new();
    // A CometBFT home of its own: config/config.toml, and config/genesis.json where a test writes one.
    private readonly string _cometHome = Directory.CreateTempSubdirectory("cometbft-home-").FullName;

    public void Dispose()
    {
        _home.Dispose();
        Directory.Delete(_cometHome, recursive: true);
    }

    private string CometToml(string? text = null)
    {
        var path = Path.Combine(_cometHome, "config", "config.toml");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text ?? File.ReadAllText(FixturePath));
        return path;
    }

    /// <summary>The command as the node's CLI nests it: <c>tmactors [--home DIR] config import ...</c>.</summary>
    private static CliRun Run(params string[] args)
    {
        var home = new Option<string>("--home") { Recursive = true, DefaultValueFactory = _ => "/nonexistent-default-home" };
        var config = new Command("config");
        config.Subcommands.Add(ConfigImportCommand.Create(home));
        var root = new RootCommand { config };
        root.Options.Add(home);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = root.Parse(["config", "import", .. args]).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    private static P2PSettings Load(string nodeConf) =>
        P2PSettings.Create(ConfigurationFactory.ParseString(File.ReadAllText(nodeConf)).WithFallback(P2PReferenceConfig.Load()));

    [Fact]
    public void Import_must_write_node_conf_under_home_that_the_node_starts_with()
    {
        var run = Run("--toml", CometToml(), "--home", _home.Root);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains($"Wrote configuration to {_home.NodeConfFile}", run.Stdout);
        var settings = Load(_home.NodeConfFile);
        Assert.Equal("fixture-node", settings.Moniker);
        Assert.Equal(2, settings.PersistentPeers.Count);
        Assert.Equal("tcp://127.0.0.1:26657", ConfigurationFactory.ParseString(File.ReadAllText(_home.NodeConfFile)).GetString("tendermint.rpc.laddr"));
        // Nothing left behind from a v0.38 [p2p]; only the network, which config.toml does not hold, is mentioned.
        Assert.DoesNotContain("not imported", run.Stderr);
        Assert.Contains("network not set", run.Stderr);
    }

    [Fact]
    public void Import_must_take_the_network_from_the_genesis_file_next_to_config_toml()
    {
        var toml = CometToml();
        File.WriteAllText(Path.Combine(_cometHome, "config", "genesis.json"), """{"genesis_time":"2024-01-01T00:00:00Z","chain_id":"cosmoshub-4"}""");
        var output = Path.Combine(_home.Root, "elsewhere.conf");

        var run = Run("--toml", toml, "--out", output);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal("cosmoshub-4", Load(output).Network);
        Assert.DoesNotContain("network not set", run.Stderr);
    }

    [Fact]
    public void Import_must_name_every_p2p_key_it_leaves_behind_on_stderr_with_its_reason()
    {
        var toml = CometToml("""
            [p2p]
            laddr = "tcp://0.0.0.0:26656"
            use-legacy = false
            upnp = true
            """);

        var run = Run("--toml", toml, "--home", _home.Root);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("tmactors config import: not imported: p2p.use-legacy: no equivalent", run.Stderr);
        Assert.Contains("tmactors config import: not imported: p2p.upnp: UPnP port forwarding is not supported", run.Stderr);
        Assert.Contains("#   p2p.use-legacy: no equivalent", File.ReadAllText(_home.NodeConfFile));
        Assert.False(Load(_home.NodeConfFile).Upnp);
    }

    [Fact]
    public void Import_must_refuse_to_overwrite_an_existing_node_conf_unless_forced()
    {
        var toml = CometToml();
        _home.WriteNodeKeyFile("{}");
        File.WriteAllText(_home.NodeConfFile, "# mine\n");

        var refused = Run("--toml", toml, "--home", _home.Root);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"'{_home.NodeConfFile}' already exists; refusing to overwrite it (--force replaces it)", refused.Stderr);
        Assert.Equal("# mine\n", File.ReadAllText(_home.NodeConfFile));

        var forced = Run("--toml", toml, "--home", _home.Root, "--force");

        Assert.True(forced.ExitCode == 0, forced.Stderr);
        Assert.Equal("fixture-node", Load(_home.NodeConfFile).Moniker);
    }

    [Fact]
    public void Import_must_write_nothing_when_the_node_would_not_start_naming_the_toml_key()
    {
        var toml = CometToml("""
            [p2p]
            pex = false
            seed_mode = true
            """);

        var run = Run("--toml", toml, "--home", _home.Root);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tmactors config import: p2p.seed_mode: the node would not start with it: tendermint.p2p.seed-mode = on: needs", run.Stderr);
        Assert.False(File.Exists(_home.NodeConfFile));
    }

    [Fact]
    public void Import_must_write_nothing_when_a_value_is_one_cometbft_would_refuse()
    {
        var run = Run("--toml", CometToml("[p2p]\ndial_timeout = \"soon\"\n"), "--home", _home.Root);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tmactors config import: p2p.dial_timeout = \"soon\": expected a Go duration", run.Stderr);
        Assert.False(File.Exists(_home.NodeConfFile));
    }

    [Fact]
    public void Import_must_say_when_the_file_is_missing_or_not_toml()
    {
        var missing = Run("--toml", Path.Combine(_cometHome, "nope.toml"), "--home", _home.Root);
        var broken = Run("--toml", CometToml("[p2p\n"), "--home", _home.Root);

        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("tmactors config import: cannot read --toml", missing.Stderr);
        Assert.Equal(1, broken.ExitCode);
        Assert.Contains("is not valid TOML", broken.Stderr);
        Assert.False(File.Exists(_home.NodeConfFile));
    }
}
