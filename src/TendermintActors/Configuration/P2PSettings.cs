using Akka.Configuration;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.NodeInfo;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Configuration;

/// <summary>A listen or external address: host (IP literal or DNS name, IPv6 without brackets) and port.</summary>
public sealed record HostAndPort(string Host, int Port)
{
    /// <summary><c>host:port</c>, with an IPv6 host in brackets: the form node info and peers use.</summary>
    public override string ToString() => NetAddress.FormatHostPort(Host, Port);
}

/// <summary>What the node exposes as metrics.</summary>
public sealed record P2PMetricsSettings(bool PerPeerLabels, string Namespace);

/// <summary>The TCP implementations a node can run on (<c>tendermint.p2p.transport</c>).</summary>
public enum P2PTransportKind
{
    /// <summary><see cref="Transport.TcpTransport"/>: our stages over System.Net.Sockets.</summary>
    Sockets,
    /// <summary><see cref="Transport.AkkaIoTransport"/>: Akka.Streams' Tcp over Akka.IO.</summary>
    AkkaIo,
}

/// <summary>
/// The <c>tendermint.p2p</c> section (hocon/reference.conf, docs/protocol.md §9 plus the timers Go hard-codes), read
/// and validated once at start so that a bad value stops the node with a message naming the key instead of
/// surfacing later as a misbehaving peer. Defaults live only in reference.conf; this type has none.
/// Build it with <see cref="Create"/> (or take <see cref="Default"/>); <c>with</c> copies are not re-validated.
/// Equality compares the list and set properties by reference, so compare those by content.
/// </summary>
public sealed record P2PSettings
{
    /// <summary>The HOCON section this type reads.</summary>
    public const string Section = "tendermint.p2p";

    /// <summary>Largest <see cref="MaxPacketMsgPayloadSize"/> we accept: a sane bound on one packet's buffer.</summary>
    internal const int MaxPayloadSizeLimit = 1024 * 1024;

    /// <summary>Go's payload size; a node that differs disconnects, or is disconnected by, Go nodes that keep it.</summary>
    internal const int GoPayloadSize = 1024;

    /// <summary>One sealed SecretConnection frame on the wire: a write batch smaller than that cannot hold one.</summary>
    internal const int SealedFrameSize = 1044;

    /// <summary>Largest <see cref="MaxWriteBatch"/>: bigger writes gain nothing and hold memory per connection.</summary>
    internal const int MaxWriteBatchLimit = 16 * 1024 * 1024;

    /// <summary>
    /// The longest backoff is 3^(steps-1) s: 18 steps end at 3^17 s (~4 years), which the redial schedule accepts (it
    /// refuses waits beyond ten years); 19 would be ~12 years.
    /// </summary>
    internal const int MaxBackoffSteps = 18;

    private static readonly Lazy<P2PSettings> DefaultSettings = new(() => Create(P2PReferenceConfig.Load()));

    private P2PSettings() { }

    /// <summary>The reference configuration alone.</summary>
    public static P2PSettings Default => DefaultSettings.Value;

    // --- node identity and node info ---
    public required string Moniker { get; init; }
    public required string Network { get; init; }
    /// <summary>As written; a relative path is resolved against the node's home by whoever loads the key.</summary>
    public required string NodeKeyFile { get; init; }
    public required string Version { get; init; }
    public required ProtocolVersion ProtocolVersion { get; init; }
    /// <summary>"", "on" or "off".</summary>
    public required string TxIndex { get; init; }
    public required string RpcAddress { get; init; }

    // --- addresses and peers ---
    /// <summary>Port 0 lets the OS pick one (tests, several nodes on one host).</summary>
    public required HostAndPort ListenAddress { get; init; }
    /// <summary>Null when the key is "" (advertise the listen address).</summary>
    public required HostAndPort? ExternalAddress { get; init; }
    public required IReadOnlyList<NetAddress> Seeds { get; init; }
    public required IReadOnlyList<NetAddress> PersistentPeers { get; init; }
    public required IReadOnlySet<NodeId> UnconditionalPeerIds { get; init; }
    public required IReadOnlySet<NodeId> PrivatePeerIds { get; init; }
    /// <summary>Always false once validated (UPnP is not supported); kept because CometBFT configs carry it.</summary>
    public required bool Upnp { get; init; }
    public required bool AllowDuplicateIp { get; init; }

    // --- address book and PEX ---
    /// <summary>As written; a relative path is resolved against the node's home.</summary>
    public required string AddrBookFile { get; init; }
    public required bool AddrBookStrict { get; init; }
    public required TimeSpan AddrBookSaveInterval { get; init; }
    public required bool Pex { get; init; }
    public required bool SeedMode { get; init; }
    public required TimeSpan SeedDisconnectWaitPeriod { get; init; }
    public required TimeSpan EnsurePeersPeriod { get; init; }
    public required TimeSpan CrawlPeriod { get; init; }
    public required TimeSpan MinTimeBetweenCrawls { get; init; }
    public required int PexMaxDialAttempts { get; init; }
    public required TimeSpan PexBanTime { get; init; }
    public required int PexEarlyRequestsTolerated { get; init; }

    // --- limits ---
    public required int MaxNumInboundPeers { get; init; }
    public required int MaxNumOutboundPeers { get; init; }
    public required int MaxConnections { get; init; }
    public required int MaxIncomingConnectionAttempts { get; init; }
    public required TimeSpan ConnectionAttemptWindow { get; init; }
    public required int MaxConcurrentHandshakes { get; init; }

    // --- dialling and redialling ---
    public required TimeSpan DialTimeout { get; init; }
    public required TimeSpan HandshakeTimeout { get; init; }
    public required TimeSpan FilterTimeout { get; init; }
    public required TimeSpan DialStartJitter { get; init; }
    /// <summary>Zero means no cap: Go's schedule.</summary>
    public required TimeSpan PersistentPeersMaxDialPeriod { get; init; }
    public required int PersistentPeersInitialRedials { get; init; }
    public required TimeSpan PersistentPeersRedialInterval { get; init; }
    public required TimeSpan PersistentPeersRedialJitter { get; init; }
    public required int PersistentPeersBackoffSteps { get; init; }

    // --- MConnection ---
    public required TimeSpan FlushThrottleTimeout { get; init; }
    public required int MaxPacketMsgPayloadSize { get; init; }
    /// <summary>Bytes per second; 0 = unlimited.</summary>
    public required long SendRate { get; init; }
    /// <summary>Bytes per second; 0 = unlimited.</summary>
    public required long RecvRate { get; init; }
    public required TimeSpan PingInterval { get; init; }
    public required TimeSpan PongTimeout { get; init; }
    public required TimeSpan SendQueueSendTimeout { get; init; }
    public required TimeSpan StatusDecayInterval { get; init; }
    /// <summary>Bytes.</summary>
    public required long MaxWriteBatch { get; init; }
    /// <summary>Bytes per channel delivered to reactors and not yet acknowledged at which a peer's reading pauses.</summary>
    public required long RecvWindow { get; init; }
    /// <summary>Bytes held for all peers together at which the largest holders are paused; 0 = no budget.</summary>
    public required long MaxBufferedBytes { get; init; }
    /// <summary>How long a peer may stay paused by the budget before it is disconnected.</summary>
    public required TimeSpan BufferedBytesTimeout { get; init; }

    /// <summary>When the switch collects after a burst of new peers (<c>gc-after-peer-burst</c>).</summary>
    public required Switching.Switch.PeerBurstCollection GcAfterPeerBurst { get; init; }
    /// <summary>When the switch collects the garbage of a process that allocates little (<c>gc-when-idle</c>).</summary>
    public required Switching.Switch.IdleCollection GcWhenIdle { get; init; }

    /// <summary>The TCP implementation (<c>transport</c>).</summary>
    public required P2PTransportKind Transport { get; init; }

    /// <summary>A new transport of the configured kind.</summary>
    public Transport.IP2PTransport CreateTransport() => Transport switch
    {
        P2PTransportKind.AkkaIo => new Transport.AkkaIoTransport(),
        _ => new Transport.TcpTransport(),
    };

    /// <summary>How a connection chooses the channel that sends next (<c>queue-type</c>).</summary>
    public required SendQueueType QueueType { get; init; }

    public required P2PMetricsSettings Metrics { get; init; }

    /// <summary>What peers are told to dial: the external address if set, else the listen address.</summary>
    public HostAndPort AdvertisedAddress => ExternalAddress ?? ListenAddress;

    /// <summary>
    /// Reads and validates <c>tendermint.p2p</c> from a configuration that has <see cref="P2PReferenceConfig.Load"/>
    /// in its fallback chain (the Akka extension puts it there).
    /// </summary>
    /// <exception cref="P2PConfigurationException">A key is unknown (misspelt, or CometBFT's underscore spelling), missing,
    /// has the wrong type or a value not allowed.</exception>
    public static P2PSettings Create(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!config.HasPath(Section))
            throw new P2PConfigurationException(Section, null,
                $"the section is absent; build the configuration with {nameof(P2PReferenceConfig)}.{nameof(P2PReferenceConfig.Load)}() as its fallback");

        var r = new ConfigReader(config, Section);
        // A misspelt key would be ignored and its setting keep the default: refuse it, saying which key was meant.
        if (ConfigKeys.Unknown(config, P2PReferenceConfig.Load(), Section) is [var unknown, ..])
            throw r.Error(unknown.Key[(Section.Length + 1)..], unknown.Problem);

        var settings = new P2PSettings
        {
            Moniker = Text(r, "moniker", allowEmpty: false),
            Network = Text(r, "network", allowEmpty: false),
            NodeKeyFile = FilePath(r, "node-key-file"),
            Version = Text(r, "version", allowEmpty: true),
            ProtocolVersion = new ProtocolVersion(
                (ulong)r.Long("protocol-version.p2p", 0),
                (ulong)r.Long("protocol-version.block", 0),
                (ulong)r.Long("protocol-version.app", 0)),
            TxIndex = TxIndexValue(r, "tx-index"),
            RpcAddress = Text(r, "rpc-address", allowEmpty: true),

            ListenAddress = Listen(r, "laddr"),
            ExternalAddress = External(r, "external-address"),
            Seeds = Addresses(r, "seeds"),
            PersistentPeers = Addresses(r, "persistent-peers"),
            UnconditionalPeerIds = Ids(r, "unconditional-peer-ids"),
            PrivatePeerIds = Ids(r, "private-peer-ids"),
            Upnp = UpnpOff(r, "upnp"),
            AllowDuplicateIp = r.Bool("allow-duplicate-ip"),

            AddrBookFile = FilePath(r, "addr-book-file"),
            AddrBookStrict = r.Bool("addr-book-strict"),
            AddrBookSaveInterval = r.PositiveDuration("addr-book-save-interval"),
            Pex = r.Bool("pex"),
            SeedMode = r.Bool("seed-mode"),
            SeedDisconnectWaitPeriod = r.Duration("seed-disconnect-wait-period"),
            EnsurePeersPeriod = r.PositiveDuration("ensure-peers-period"),
            CrawlPeriod = r.PositiveDuration("crawl-period"),
            MinTimeBetweenCrawls = r.Duration("min-time-between-crawls"),
            PexMaxDialAttempts = r.Int("pex-max-dial-attempts", 1),
            PexBanTime = r.PositiveDuration("pex-ban-time", MaxBanTime),
            PexEarlyRequestsTolerated = r.Int("pex-early-requests-tolerated", 0),

            MaxNumInboundPeers = r.Int("max-num-inbound-peers", 0),
            MaxNumOutboundPeers = r.Int("max-num-outbound-peers", 0),
            MaxConnections = r.Int("max-connections", 0),
            // Zero would refuse every inbound connection, as for max-concurrent-handshakes.
            MaxIncomingConnectionAttempts = r.Int("max-incoming-connection-attempts", 1),
            ConnectionAttemptWindow = r.PositiveDuration("connection-attempt-window"),
            // Zero would refuse every connection, unconditional peers included: never what anyone means.
            MaxConcurrentHandshakes = r.Int("max-concurrent-handshakes", 1),

            DialTimeout = r.PositiveDuration("dial-timeout", Switching.Switch.Settings.MaxTimeout),
            HandshakeTimeout = r.PositiveDuration("handshake-timeout", Switching.Switch.Settings.MaxTimeout),
            FilterTimeout = r.PositiveDuration("filter-timeout", Switching.Switch.Settings.MaxTimeout),
            DialStartJitter = r.Duration("dial-start-jitter", "0s = no jitter"),
            PersistentPeersMaxDialPeriod = r.Duration("persistent-peers-max-dial-period", "0s = no cap"),
            PersistentPeersInitialRedials = r.Int("persistent-peers-initial-redials", 0),
            PersistentPeersRedialInterval = r.PositiveDuration("persistent-peers-redial-interval"),
            PersistentPeersRedialJitter = r.Duration("persistent-peers-redial-jitter", "0s = no jitter"),
            PersistentPeersBackoffSteps = r.Int("persistent-peers-backoff-steps", 0, MaxBackoffSteps, "3^i seconds for i = 0..steps-1"),

            FlushThrottleTimeout = r.PositiveDuration("flush-throttle-timeout"),
            MaxPacketMsgPayloadSize = (int)r.Bytes("max-packet-msg-payload-size", 1, MaxPayloadSizeLimit),
            SendRate = r.Long("send-rate", 0, note: "bytes per second, 0 = unlimited"),
            RecvRate = r.Long("recv-rate", 0, note: "bytes per second, 0 = unlimited"),
            PingInterval = r.PositiveDuration("ping-interval"),
            PongTimeout = r.PositiveDuration("pong-timeout"),
            SendQueueSendTimeout = r.Duration("send-queue-send-timeout", "0s = Send gives up at once, like TrySend", Switching.Switch.Settings.MaxTimeout),
            StatusDecayInterval = r.PositiveDuration("status-decay-interval"),
            MaxWriteBatch = r.Bytes("max-write-batch", SealedFrameSize, MaxWriteBatchLimit),
            RecvWindow = r.Bytes("recv-window", 1, long.MaxValue),
            MaxBufferedBytes = r.Bytes("max-buffered-bytes", 0, long.MaxValue),
            BufferedBytesTimeout = r.PositiveDuration("buffered-bytes-timeout", Switching.Switch.Settings.MaxTimeout),
            QueueType = QueueTypeValue(r, "queue-type"),
            GcAfterPeerBurst = new Switching.Switch.PeerBurstCollection
            {
                MinPeers = r.Int("gc-after-peer-burst.min-peers", 0, note: "0 = never collect"),
                MinAllocatedBytes = r.Bytes("gc-after-peer-burst.min-allocated", 0, long.MaxValue),
                QuietPeriod = r.PositiveDuration("gc-after-peer-burst.quiet-period", Switching.Switch.Settings.MaxTimeout),
                MinInterval = r.PositiveDuration("gc-after-peer-burst.min-interval"),
            },
            GcWhenIdle = new Switching.Switch.IdleCollection
            {
                MinAllocatedBytes = r.Bytes("gc-when-idle.min-allocated", 0, long.MaxValue),
                CheckInterval = r.PositiveDuration("gc-when-idle.check-interval", Switching.Switch.Settings.MaxTimeout),
            },
            Transport = r.String("transport") switch
            {
                "sockets" => P2PTransportKind.Sockets,
                "akka-io" => P2PTransportKind.AkkaIo,
                _ => throw r.Error("transport", "must be \"sockets\" or \"akka-io\"", quoted: true),
            },

            Metrics = new P2PMetricsSettings(r.Bool("metrics.per-peer-labels"), MetricsNamespace(r, "metrics.namespace")),
        };

        // Rules between keys, checked once each key is valid on its own.
        if (settings.PongTimeout >= settings.PingInterval)
            throw r.Error("pong-timeout", $"must be shorter than {r.Key("ping-interval")} ({r.Raw("ping-interval")}), or a pong could be awaited past the next ping");
        if (settings.SeedMode && !settings.Pex)
            throw r.Error("seed-mode", $"needs {r.Key("pex")} = on: a seed does its work through PEX");

        return settings;
    }

    /// <summary>
    /// Values that are allowed but probably not meant; the node logs them at start.
    /// </summary>
    public IReadOnlyList<string> Warnings()
    {
        var warnings = new List<string>();
        if (MaxPacketMsgPayloadSize != GoPayloadSize)
            warnings.Add($"{Section}.max-packet-msg-payload-size = {MaxPacketMsgPayloadSize}: Go nodes keep {GoPayloadSize}, and each side " +
                         "disconnects a peer whose packets exceed its own limit; use it only if every peer is configured alike");
        if (!Pex && PersistentPeers.Count == 0)
            warnings.Add($"{Section}.pex = off and {Section}.persistent-peers is empty: this node will only have the peers that dial it");
        // Go asks for addresses at most every 30 s and refuses requests closer than 10 s apart; we refuse requests
        // closer than a third of our period (PEX's request-rate rule).
        if (Pex && EnsurePeersPeriod < GoMinRequestInterval)
            warnings.Add($"{Section}.ensure-peers-period = {EnsurePeersPeriod.TotalSeconds:0.###}s: this node may ask a Go peer for " +
                         $"addresses more often than every {GoMinRequestInterval.TotalSeconds:0} s, and Go disconnects and bans a peer that does");
        if (Pex && EnsurePeersPeriod > 3 * GoEnsurePeersPeriod)
            warnings.Add($"{Section}.ensure-peers-period = {EnsurePeersPeriod.TotalSeconds:0.###}s: this node refuses PEX requests closer " +
                         $"than a third of it, and Go peers ask every {GoEnsurePeersPeriod.TotalSeconds:0} s: they would be banned");
        return warnings;
    }

    // Printable ASCII and not only spaces: Go's node-info rule for moniker, version and rpc_address (docs/protocol.md §4),
    // so a value that breaks it would have every peer reject us.
    private static string Text(ConfigReader r, string key, bool allowEmpty)
    {
        var value = r.String(key);
        if (value.Length == 0)
        {
            if (allowEmpty)
                return value;
            throw r.Error(key, "must not be empty; printable ASCII, not only spaces", quoted: true);
        }
        foreach (var c in value)
            if (c is < ' ' or > '~')
                throw r.Error(key, $"must be printable ASCII (character U+{(int)c:X4} is not){(allowEmpty ? ", or \"\"" : "")}", quoted: true);
        // Akka's HOCON already trims a string's outer whitespace; kept so the rule holds whatever the parser does.
        if (value.Trim(' ').Length == 0)
            throw r.Error(key, $"must not be only spaces{(allowEmpty ? "; use \"\" for none" : "")}", quoted: true);
        return value;
    }

    private static string FilePath(ConfigReader r, string key)
    {
        var value = r.String(key);
        if (value.Trim().Length == 0)
            throw r.Error(key, "must be a file path", quoted: true);
        if (value.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            throw r.Error(key, "contains a character not allowed in a path", quoted: true);
        return value;
    }

    private static SendQueueType QueueTypeValue(ConfigReader r, string key) => r.String(key) switch
    {
        "priority" => SendQueueType.Priority,
        "fifo" => SendQueueType.Fifo,
        "wdrr" => SendQueueType.Wdrr,
        _ => throw r.Error(key, "must be \"priority\", \"fifo\" or \"wdrr\"", quoted: true),
    };

    private static string TxIndexValue(ConfigReader r, string key)
    {
        var value = r.String(key);
        return value is "" or "on" or "off"
            ? value
            : throw r.Error(key, "must be \"on\", \"off\" or \"\" (Go peers reject any other value in the node info)", quoted: true);
    }

    private static bool UpnpOff(ConfigReader r, string key) =>
        r.Bool(key)
            ? throw r.Error(key, "UPnP port forwarding is not supported; must be off (forward the port yourself and set external-address)")
            : false;

    private static HostAndPort Listen(ConfigReader r, string key)
    {
        var value = r.String(key);
        var scheme = value.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0 && !value[..scheme].Equals("tcp", StringComparison.OrdinalIgnoreCase))
            throw r.Error(key, $"must be tcp://host:port (protocol '{value[..scheme]}' is not supported)", quoted: true);
        // Port 0 (the OS picks one) is fine to listen on, though never in a peer address, which the parser is for:
        // parse with a stand-in port and put the 0 back.
        var anyPort = value.EndsWith(":0", StringComparison.Ordinal);
        var parsed = anyPort ? value[..^1] + "1" : value;
        if (!NetAddress.TryParseHostPort(parsed, out var host, out var port, out var error))
        {
            // Report the parser's complaint about the text as written, not about the stand-in.
            if (anyPort)
                NetAddress.TryParseHostPort(value, out _, out _, out error);
            throw r.Error(key, $"must be tcp://host:port; {error}", quoted: true);
        }
        return new HostAndPort(host, anyPort ? 0 : port);
    }

    private static HostAndPort? External(ConfigReader r, string key)
    {
        var value = r.String(key).Trim();
        if (value.Length == 0)
            return null;
        var scheme = value.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0 && !value[..scheme].Equals("tcp", StringComparison.OrdinalIgnoreCase))
            throw r.Error(key, $"must be \"\" or [tcp://]host:port (protocol '{value[..scheme]}' is not supported)", quoted: true);
        return NetAddress.TryParseHostPort(value, out var host, out var port, out var error)
            ? new HostAndPort(host, port)
            : throw r.Error(key, $"must be \"\" or [tcp://]host:port; {error}", quoted: true);
    }

    private static IReadOnlyList<NetAddress> Addresses(ConfigReader r, string key)
    {
        var text = r.ListText(key);
        try
        {
            return NetAddress.ParseList(text);
        }
        catch (FormatException e)
        {
            throw r.Error(key, $"every entry must be id@host:port; {e.Message}", quoted: true);
        }
    }

    private static IReadOnlySet<NodeId> Ids(ConfigReader r, string key)
    {
        var ids = new HashSet<NodeId>();
        foreach (var entry in r.ListText(key).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!NodeId.TryParse(entry, out var id, out var error))
                throw r.Error(key, $"every entry must be a node ID (40 hex characters); {error}", quoted: true);
            ids.Add(id);
        }
        return ids;
    }

    private static readonly TimeSpan GoEnsurePeersPeriod = Protocol.Pex.PexConstants.DefaultEnsurePeersPeriod;
    private static readonly TimeSpan GoMinRequestInterval = Protocol.Pex.PexConstants.MinReceiveRequestInterval(GoEnsurePeersPeriod);

    /// <summary>Longest PEX ban: far past any use, and well inside what a date can hold when added to now.</summary>
    internal static readonly TimeSpan MaxBanTime = TimeSpan.FromDays(36500);

    /// <summary>
    /// Longest metrics namespace: OpenTelemetry ignores instruments whose name is over 255 characters, and the longest
    /// of ours adds 28 (<c>_p2p_peer_pending_send_bytes</c>).
    /// </summary>
    internal const int MaxMetricsNamespaceLength = 200;

    // Prometheus' rule for a name prefix, narrowed to what OpenTelemetry accepts as the start of an instrument name (a
    // letter first; it silently drops instruments it refuses); "" means no prefix.
    private static string MetricsNamespace(ConfigReader r, string key)
    {
        const string rule = "must be \"\" or letters, digits and '_', starting with a letter, at most 200 characters (a metric name prefix)";
        var value = r.String(key);
        if (value.Length > MaxMetricsNamespaceLength || value.Length > 0 && !char.IsAsciiLetter(value[0]))
            throw r.Error(key, rule, quoted: true);
        foreach (var c in value)
            if (!(char.IsAsciiLetter(c) || c == '_' || char.IsAsciiDigit(c)))
                throw r.Error(key, rule, quoted: true);
        return value;
    }
}
