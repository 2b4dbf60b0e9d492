using System.CommandLine;
using System.Text;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Commands;

/// <summary>
/// <c>tmactors init</c>: creates a node's home: a fresh node key (never replacing one) and a node.conf naming the
/// node. The ID goes alone on the last line of stdout, so scripts can take it with <c>tail -n1</c>.
/// </summary>
internal static class InitCommand
{
    public const string DefaultNetwork = "test-net";
    public const string FallbackMoniker = "tmactors";
    public const string DefaultListenAddress = "tcp://0.0.0.0:26656";

    internal sealed record Options(NodeHome Home, string Network, string Moniker);

    public static Command Create(Option<string> home)
    {
        var network = new Option<string>("--network")
        {
            Description = "Network (chain ID) the node joins; peers on another network are rejected",
            HelpName = "NAME",
            DefaultValueFactory = _ => DefaultNetwork,
        };
        var moniker = new Option<string>("--moniker")
        {
            Description = "Human-readable node name sent to peers (printable ASCII; defaults to the host name)",
            HelpName = "NAME",
            DefaultValueFactory = _ => DefaultMoniker(HostName()),
        };
        var command = new Command("init", "Create a node key and a node.conf under the home directory");
        command.Options.Add(network);
        command.Options.Add(moniker);
        command.SetAction(parse => Run(
            new Options(NodeHome.At(parse.GetValue(home)!), parse.GetValue(network)!, parse.GetValue(moniker)!),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(Options options, TextWriter stdout, TextWriter stderr)
    {
        if (Validate(options) is { } invalid)
            return Fail(stderr, invalid);

        var home = options.Home;
        if (File.Exists(home.NodeKeyFile))
            return Fail(stderr, $"node key file '{home.NodeKeyFile}' already exists; refusing to overwrite it " +
                                $"(its ID: 'tmactors show-node-id --home {home.Root}')");

        // node.conf first: if the key cannot be written, running init again completes the home.
        var confExisted = File.Exists(home.NodeConfFile);
        NodeKey key;
        try
        {
            if (!confExisted)
                AtomicFile.WriteAllText(home.NodeConfFile, NodeConf(options), ownerOnly: false);
            key = NodeKey.Generate();
            NodeKeyFile.Save(key, home.NodeKeyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(stderr, $"cannot write under '{home.ConfigDirectory}': {e.Message}");
        }

        using (key)
        {
            stdout.WriteLine($"Wrote node key to {home.NodeKeyFile}");
            stdout.WriteLine(confExisted
                ? $"Left existing {home.NodeConfFile} unchanged (--moniker and --network were not applied)"
                : $"Wrote configuration to {home.NodeConfFile}");
            stdout.WriteLine(key.Id.Hex);
        }
        return 0;
    }

    /// <summary>The same rules Go applies to a node info's moniker; the network only has to be a usable name.</summary>
    internal static string? Validate(Options options)
    {
        if (!IsPrintableAscii(options.Moniker) || options.Moniker.Trim(' ').Length == 0)
            return $"--moniker '{options.Moniker}' must be printable ASCII and not only spaces";
        if (!IsPrintableAscii(options.Network) || options.Network.Trim(' ').Length == 0)
            return $"--network '{options.Network}' must be non-empty printable ASCII and not only spaces";
        return null;
    }

    /// <summary>The host name reduced to printable ASCII, or "tmactors" when nothing usable is left.</summary>
    internal static string DefaultMoniker(string? hostName)
    {
        var kept = new StringBuilder();
        foreach (var c in hostName ?? string.Empty)
            if (IsPrintableAscii(c))
                kept.Append(c);
        var moniker = kept.ToString().Trim(' ');
        return moniker.Length == 0 ? FallbackMoniker : moniker;
    }

    internal static string NodeConf(Options options) => $$"""
        # Node configuration written by 'tmactors init'. It sets only what differs per node;
        # every key, with its default and what it does, is listed in hocon/reference.conf.
        tendermint.p2p {
          # Human-readable name sent to peers in the node info (printable ASCII).
          moniker = {{Quote(options.Moniker)}}
          # Network (chain ID) to join; peers on any other network are rejected.
          network = {{Quote(options.Network)}}
          # This node's key in Go's node_key.json format, relative to the node's home.
          node-key-file = {{Quote(NodeHome.NodeKeyRelativePath)}}
          # Address to listen on for incoming peer connections.
          laddr = {{Quote(DefaultListenAddress)}}
        }

        """;

    // Values are printable ASCII (validated), so only the quote and backslash need escaping in a HOCON string.
    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static bool IsPrintableAscii(string s)
    {
        foreach (var c in s)
            if (!IsPrintableAscii(c))
                return false;
        return true;
    }

    private static bool IsPrintableAscii(char c) => c is >= ' ' and <= '~';

    private static string? HostName()
    {
        try
        {
            return System.Net.Dns.GetHostName();
        }
        catch (System.Net.Sockets.SocketException)
        {
            return null;
        }
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"tmactors init: {message}");
        return Cli.Failure;
    }
}
