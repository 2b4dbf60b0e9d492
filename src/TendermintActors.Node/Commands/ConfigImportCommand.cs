using System.CommandLine;
using System.Text.Json;
using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Node.CometBft;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Commands;

/// <summary>
/// <c>tmactors config import --toml config.toml</c>: writes the node.conf equivalent to a CometBFT config.toml
/// (<see cref="CometBftConfig"/> decides what maps to what) after checking that the node would start with it. Every
/// key left behind is named on stderr with its reason; an existing node.conf is replaced only with <c>--force</c>.
/// </summary>
internal static class ConfigImportCommand
{
    internal sealed record Options(string TomlFile, string OutFile, bool Force);

    internal static Command Create(Option<string> home)
    {
        var toml = new Option<string>("--toml")
        {
            Description = "The CometBFT config.toml to read", HelpName = "FILE", Required = true,
        };
        var output = new Option<string>("--out")
        {
            Description = "Where to write the node.conf (default: config/node.conf under --home)", HelpName = "FILE",
        };
        var force = new Option<bool>("--force") { Description = "Replace the output file if it exists" };
        var command = new Command("import", "Write a node.conf from a CometBFT config.toml ([p2p], moniker, node_key_file, [rpc] laddr/unsafe); " +
                                            "keys that cannot be carried over are named on stderr");
        command.Options.Add(toml);
        command.Options.Add(output);
        command.Options.Add(force);
        command.SetAction(parse => Run(
            new Options(parse.GetValue(toml)!, parse.GetValue(output) ?? NodeHome.At(parse.GetValue(home)!).NodeConfFile, parse.GetValue(force)),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(Options options, TextWriter stdout, TextWriter stderr)
    {
        var tomlPath = Path.GetFullPath(options.TomlFile);
        string text;
        try
        {
            text = File.ReadAllText(tomlPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(stderr, $"cannot read --toml '{options.TomlFile}': {e.Message}");
        }

        Tomlyn.Model.TomlTable document;
        try
        {
            document = CometBftConfig.Parse(text);
        }
        catch (FormatException e)
        {
            return Fail(stderr, $"'{tomlPath}' is not valid TOML: {e.Message}");
        }

        var result = CometBftConfig.Map(document);
        foreach (var unmapped in result.Unmapped)
            stderr.WriteLine($"tmactors config import: not imported: {unmapped.Key}: {unmapped.Reason}");
        if (result.Errors.Count > 0)
        {
            foreach (var error in result.Errors)
                stderr.WriteLine($"tmactors config import: {error}");
            return Fail(stderr, $"'{tomlPath}' has values CometBFT would refuse; nothing written");
        }

        result = WithNetwork(result, document, tomlPath, stderr);
        var hocon = CometBftConfig.ToHocon(result, tomlPath);
        if (Check(hocon, result) is { } refused)
            return Fail(stderr, $"{refused}; nothing written");

        var outPath = Path.GetFullPath(options.OutFile);
        if (File.Exists(outPath) && !options.Force)
            return Fail(stderr, $"'{outPath}' already exists; refusing to overwrite it (--force replaces it)");
        try
        {
            AtomicFile.WriteAllText(outPath, hocon, ownerOnly: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(stderr, $"cannot write '{outPath}': {e.Message}");
        }
        stdout.WriteLine($"Wrote configuration to {outPath} ({result.Settings.Count} settings; {result.Unmapped.Count} keys not imported)");
        return 0;
    }

    /// <summary>
    /// The network (chain ID) is not in config.toml: CometBFT reads it from genesis.json (<c>genesis_file</c>, relative
    /// to the home that holds config/config.toml). Taken from there when the file is at hand; otherwise said on stderr.
    /// </summary>
    private static CometBftConfig.Result WithNetwork(CometBftConfig.Result result, Tomlyn.Model.TomlTable document, string tomlPath, TextWriter stderr)
    {
        var genesisName = document.TryGetValue("genesis_file", out var g) && g is string name ? name : "config/genesis.json";
        var cometHome = Path.GetDirectoryName(Path.GetDirectoryName(tomlPath)) ?? ".";
        var genesisPath = Path.IsPathRooted(genesisName) ? genesisName : Path.Combine(cometHome, genesisName);
        try
        {
            using var genesis = JsonDocument.Parse(File.ReadAllText(genesisPath));
            if (genesis.RootElement.TryGetProperty("chain_id", out var chainId) && chainId.ValueKind == JsonValueKind.String)
                return result with
                {
                    Settings = [.. result.Settings, new CometBftConfig.Setting($"{CometBftConfig.P2PSection}.network",
                        CometBftConfig.Quote(chainId.GetString()!), $"chain_id of {genesisPath}")],
                };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // Reported below: the import is still useful, and the operator knows the chain ID.
        }
        stderr.WriteLine($"tmactors config import: network not set: CometBFT takes it from genesis.json's chain_id, and '{genesisPath}' " +
                         $"has none; set {CometBftConfig.P2PSection}.network in the node.conf");
        return result;
    }

    /// <summary>What the node would say at start about these settings, naming the TOML key behind ours; null when it would start.</summary>
    private static string? Check(string hocon, CometBftConfig.Result result)
    {
        try
        {
            P2PSettings.Create(ConfigurationFactory.ParseString(hocon).WithFallback(P2PReferenceConfig.Load()));
            return null;
        }
        catch (P2PConfigurationException e)
        {
            var source = result.Settings.LastOrDefault(s => s.Key == e.Key)?.Source;
            return source is null ? $"the node would not start: {e.Message}" : $"{source}: the node would not start with it: {e.Message}";
        }
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"tmactors config import: {message}");
        return Cli.Failure;
    }
}
