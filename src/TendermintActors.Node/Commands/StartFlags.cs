using System.CommandLine;
using TendermintActors.Node.Rpc;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Commands;

/// <summary>
/// The flags of <c>tmactors start</c> (CometBFT-style flags, <c>--set</c>, the diagnostics channels), shared with
/// <c>config show</c> and <c>config check</c> so that those see exactly the configuration <c>start</c> would run with.
/// </summary>
internal sealed class StartFlags
{
    private readonly Option<string> _home;
    private readonly Option<string> _moniker = Text("--moniker", "Node name sent to peers", "NAME");
    private readonly Option<string> _network = Text("--network", "Network (chain ID) to join", "NAME");
    private readonly Option<string> _laddr = Text("--p2p.laddr", "Address to listen on, e.g. tcp://0.0.0.0:26656", "ADDR");
    private readonly Option<string> _external = Text("--p2p.external-address", "Address to advertise instead of the listen address", "HOST:PORT", "--p2p.external_address");
    private readonly Option<string> _seeds = Text("--p2p.seeds", "Comma-separated id@host:port of seed nodes", "LIST");
    private readonly Option<string> _persistent = Text("--p2p.persistent_peers", "Comma-separated id@host:port to stay connected to", "LIST", "--p2p.persistent-peers");
    private readonly Option<string> _unconditional = Text("--p2p.unconditional_peer_ids", "Comma-separated IDs exempt from the peer limits", "IDS", "--p2p.unconditional-peer-ids");
    private readonly Option<string> _privateIds = Text("--p2p.private_peer_ids", "Comma-separated IDs never gossiped", "IDS", "--p2p.private-peer-ids");
    private readonly Option<bool?> _pex = Flag("--p2p.pex", "Enable peer exchange");
    private readonly Option<bool?> _seedMode = Flag("--p2p.seed_mode", "Run as a seed node", "--p2p.seed-mode");
    private readonly Option<string[]> _set = new("--set")
    {
        Description = "Override any HOCON key, e.g. tendermint.p2p.addr-book-strict=off (repeatable; wins over the flags, the last one wins)",
        HelpName = "PATH=VALUE",
        AllowMultipleArgumentsPerToken = false,
    };
    private readonly Option<string> _echo = Text("--echo-channel", "Run a reactor on this channel that echoes every message back to its sender", "ID");
    private readonly Option<string> _sink = Text("--sink-channel", "Run a reactor on these channels (comma-separated) that counts what it receives", "IDS");
    private readonly Option<string> _rpcLaddr = Text("--rpc.laddr", $"RPC address to listen on (tendermint.rpc.laddr, default {RpcServer.DefaultListenAddress}; port 0 picks a free one; empty turns RPC off)", "ADDR");
    private readonly Option<bool?> _rpcUnsafe = Flag("--rpc.unsafe", "Serve the unsafe RPC routes /dial_peers and /dial_seeds (tendermint.rpc.unsafe, default false)");
    private readonly (Option<string> Level, Option<string> Format) _log = LogFlags.Create("info");

    public StartFlags(Option<string> home) => _home = home;

    private IEnumerable<Option> All =>
        [_moniker, _network, _laddr, _external, _seeds, _persistent, _unconditional, _privateIds, _pex, _seedMode, _set, _echo, _sink, _rpcLaddr, _rpcUnsafe, _log.Level, _log.Format];

    /// <summary>Adds every flag to <paramref name="command"/>.</summary>
    public Command AddTo(Command command)
    {
        foreach (var option in All)
            command.Options.Add(option);
        return command;
    }

    /// <summary>The options the flags ask for; false with the message for stderr when a flag's value is malformed.</summary>
    public bool TryRead(ParseResult parse, out StartCommand.Options options, out string? error)
    {
        options = null!;
        byte? echoId = null;
        IReadOnlyList<byte> sinkIds = [];
        if (parse.GetValue(_echo) is { } e && !StartCommand.TryParseChannel(e, out echoId))
        {
            error = $"--echo-channel '{e}' is not a channel ID (0x00 to 0xff, or 0 to 255)";
            return false;
        }
        if (parse.GetValue(_sink) is { } s && !StartCommand.TryParseChannels(s, out sinkIds, out var bad))
        {
            error = $"--sink-channel '{bad}' is not a channel ID (0x00 to 0xff, or 0 to 255)";
            return false;
        }
        if (!LogFlags.TryParse(parse, _log.Level, _log.Format, out var log, out var logError))
        {
            error = logError;
            return false;
        }
        options = new StartCommand.Options(NodeHome.At(parse.GetValue(_home)!))
        {
            Moniker = parse.GetValue(_moniker),
            Network = parse.GetValue(_network),
            ListenAddress = parse.GetValue(_laddr),
            ExternalAddress = parse.GetValue(_external),
            Seeds = parse.GetValue(_seeds),
            PersistentPeers = parse.GetValue(_persistent),
            UnconditionalPeerIds = parse.GetValue(_unconditional),
            PrivatePeerIds = parse.GetValue(_privateIds),
            Pex = parse.GetValue(_pex),
            SeedMode = parse.GetValue(_seedMode),
            Sets = parse.GetValue(_set) ?? [],
            EchoChannel = echoId,
            SinkChannels = sinkIds,
            RpcListenAddress = parse.GetValue(_rpcLaddr),
            RpcUnsafe = parse.GetValue(_rpcUnsafe),
            Log = log,
        };
        error = null;
        return true;
    }

    private static Option<string> Text(string name, string description, string helpName, params string[] aliases) =>
        new(name, aliases) { Description = description, HelpName = helpName };

    private static Option<bool?> Flag(string name, string description, params string[] aliases) =>
        new(name, aliases) { Description = description + " (true/false)", HelpName = "BOOL" };
}
