using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Transport;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;
using ProtocolVersion = TendermintActors.Protocol.NodeInfo.ProtocolVersion;

namespace TendermintActors.Switching;

/// <summary>A reactor and the channels it owns (docs/protocol.md §5 descriptors; IDs advertised in our node info).</summary>
public sealed record ReactorRegistration(string Name, IActorRef Reactor, IReadOnlyList<ChannelDescriptor> Channels);

/// <summary>What a peer filter sees: the authenticated candidate. Return null to accept, or a reason to refuse.</summary>
public delegate Task<string?> PeerFilter(PeerHandle candidate, CancellationToken cancellation);

/// <summary>
/// The switch: the single owner of "who is connected". It listens and dials through an <see cref="IP2PTransport"/>,
/// runs one peer actor per connection, decides admission after each upgrade, redials persistent peers, and
/// broadcasts. Reactors learn of peers from the peers themselves (<see cref="Reactor"/> events).
/// </summary>
public static class Switch
{
    public interface ICommand;

    /// <summary>
    /// After a burst of new peers has settled, one full, compacting collection that returns the freed memory to the OS:
    /// connecting a peer leaves ~100 KiB of garbage (handshake, stream materialisation), and a node that then idles
    /// allocates nothing, so no collection would otherwise run and the resident set would keep it. Bounded to one per
    /// <see cref="MinInterval"/>. See docs/performance.md, "Handing a burst's garbage back".
    /// </summary>
    public sealed record PeerBurstCollection
    {
        /// <summary>
        /// Peers admitted since the last such collection that make a burst; 0 = never collect (the default: in a host
        /// application the heap and its pauses are the host's; the <c>tmactors</c> node sets 32).
        /// </summary>
        public int MinPeers { get; init; }

        /// <summary>Bytes the process allocated since the last such collection (the most it can hand back) below which it is not worth one.</summary>
        public long MinAllocatedBytes { get; init; } = 8L * 1024 * 1024;

        /// <summary>How long no new peer must have been admitted: the burst has settled.</summary>
        public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromSeconds(2);

        /// <summary>At most one such collection per this interval.</summary>
        public TimeSpan MinInterval { get; init; } = TimeSpan.FromMinutes(5);

        /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
        public void Validate()
        {
            if (MinPeers < 0)
                throw new ArgumentException($"{nameof(MinPeers)} must be 0 (off) or more, got {MinPeers}");
            if (MinAllocatedBytes < 0)
                throw new ArgumentException($"{nameof(MinAllocatedBytes)} must be 0 or more, got {MinAllocatedBytes}");
            if (QuietPeriod <= TimeSpan.Zero || QuietPeriod > Settings.MaxTimeout)
                throw new ArgumentException($"{nameof(QuietPeriod)} must be longer than 0 and at most {Settings.MaxTimeout.TotalHours:0} h, got {QuietPeriod}");
            if (MinInterval <= TimeSpan.Zero)
                throw new ArgumentException($"{nameof(MinInterval)} must be longer than 0, got {MinInterval}");
        }
    }

    /// <summary>
    /// While the process allocates little, a collection of the young generations every <see cref="MinAllocatedBytes"/>:
    /// the runtime collects when its gen0 budget fills (~16 MB on a server CPU; the budget follows its cache size), and
    /// a node whose peers only ping fills it in minutes to hours, each byte of garbage resident until then. Checked
    /// every <see cref="CheckInterval"/>; a collection the runtime ran on its own since the last check resets the count,
    /// and a process that allocated <see cref="MinAllocatedBytes"/> or more within the last interval is busy and left to
    /// the runtime. See docs/performance.md, "Garbage between collections".
    /// </summary>
    public sealed record IdleCollection
    {
        /// <summary>
        /// Bytes the process allocated with no collection at which the young generations are collected; 0 = never (the
        /// default: in a host application the heap is the host's; the <c>tmactors</c> node sets 1 MiB).
        /// </summary>
        public long MinAllocatedBytes { get; init; }

        /// <summary>How often the process's allocations are read.</summary>
        public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(10);

        /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
        public void Validate()
        {
            if (MinAllocatedBytes < 0)
                throw new ArgumentException($"{nameof(MinAllocatedBytes)} must be 0 (off) or more, got {MinAllocatedBytes}");
            if (CheckInterval <= TimeSpan.Zero || CheckInterval > Settings.MaxTimeout)
                throw new ArgumentException($"{nameof(CheckInterval)} must be longer than 0 and at most {Settings.MaxTimeout.TotalHours:0} h, got {CheckInterval}");
        }
    }

    /// <summary>Options of the switch (built from <c>tendermint.p2p</c> by the node; every default is CometBFT's).</summary>
    public sealed record Settings
    {
        public string Moniker { get; init; } = "tmactors";
        public string Network { get; init; } = "test-net";
        public string Version { get; init; } = "0.1.0";
        public ProtocolVersion ProtocolVersion { get; init; } = ProtocolVersion.Default;
        /// <summary>Sent in the node info's <c>other</c>: "", "on" or "off".</summary>
        public string TxIndex { get; init; } = "off";
        /// <summary>Sent in the node info's <c>other</c>: where this node's RPC listens ("" when it has none).</summary>
        public string RpcAddress { get; init; } = "";
        /// <summary>Host and port to listen on; null host = do not listen (dial only). Port 0 picks a free one.</summary>
        public string? ListenHost { get; init; } = "0.0.0.0";
        public int ListenPort { get; init; } = 26656;
        /// <summary>Advertised instead of the bound address when set (<c>external-address</c>), as host:port.</summary>
        public string? ExternalAddress { get; init; }
        public int MaxInboundPeers { get; init; } = 40;
        public int MaxOutboundPeers { get; init; } = 10;
        public bool AllowDuplicateIp { get; init; }
        public IReadOnlySet<NodeId> UnconditionalPeerIds { get; init; } = new HashSet<NodeId>();
        public IReadOnlySet<NodeId> PrivatePeerIds { get; init; } = new HashSet<NodeId>();
        public IReadOnlyList<NetAddress> PersistentPeers { get; init; } = [];
        /// <summary>Caps the wait between redials of a persistent peer; zero keeps Go's schedule.</summary>
        public TimeSpan PersistentPeersMaxDialPeriod { get; init; } = TimeSpan.Zero;
        /// <summary>Go's redial schedule: this many tries <see cref="PersistentPeersRedialInterval"/> apart (plus jitter), then 3^i s for i below <see cref="PersistentPeersBackoffSteps"/>.</summary>
        public int PersistentPeersInitialRedials { get; init; } = 20;
        public TimeSpan PersistentPeersRedialInterval { get; init; } = TimeSpan.FromSeconds(5);
        public TimeSpan PersistentPeersRedialJitter { get; init; } = TimeSpan.FromSeconds(3);
        public int PersistentPeersBackoffSteps { get; init; } = 10;
        public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(20);
        public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(3);
        /// <summary>Our bound on connections being upgraded at once; surplus inbound connections are closed at once.</summary>
        public int MaxConcurrentHandshakes { get; init; } = 64;
        /// <summary>Connection attempts accepted from one IP per <see cref="ConnectionAttemptWindow"/>.</summary>
        public int MaxIncomingConnectionAttempts { get; init; } = 100;
        public TimeSpan ConnectionAttemptWindow { get; init; } = TimeSpan.FromMinutes(1);
        /// <summary>How long <c>Send</c> waits for room in a channel's queue.</summary>
        public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(10);
        /// <summary>Random delay, up to this, before each dial at start (Go: 3 s), so a restart does not stampede.</summary>
        public TimeSpan DialStartJitter { get; init; } = TimeSpan.FromSeconds(3);
        public IReadOnlyList<PeerFilter> PeerFilters { get; init; } = [];
        public TimeSpan FilterTimeout { get; init; } = TimeSpan.FromSeconds(5);
        /// <summary>
        /// Bytes held for all peers together (partial messages, pending sends, handshakes) at which the peers holding
        /// the most are paused; 0 = no budget. See <see cref="Protocol.Switch.BufferBudget{TKey}"/>.
        /// </summary>
        public long MaxBufferedBytes { get; init; } = 256L * 1024 * 1024;
        /// <summary>A peer paused by the budget this long is stopped with <see cref="PeerStopReason.BudgetExceeded"/>.</summary>
        public TimeSpan BufferedBytesTimeout { get; init; } = TimeSpan.FromSeconds(30);
        public MConnectionSettings Connection { get; init; } = new();
        /// <summary>When the switch collects the garbage a burst of new peers left (<c>gc-after-peer-burst</c>).</summary>
        public PeerBurstCollection GcAfterPeerBurst { get; init; } = new();
        /// <summary>When the switch collects the garbage of a process that allocates little (<c>gc-when-idle</c>).</summary>
        public IdleCollection GcWhenIdle { get; init; } = new();

        /// <summary>
        /// The longest dial, handshake, filter and send timeout. .NET's timers under them (cancellation sources, Ask)
        /// take at most ~49 days, and an hour is already far past any use.
        /// </summary>
        public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

        /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range; <see cref="Switch.Props"/> calls it.</summary>
        public void Validate()
        {
            RequireTimeout(nameof(DialTimeout), DialTimeout, zeroAllowed: false);
            RequireTimeout(nameof(HandshakeTimeout), HandshakeTimeout, zeroAllowed: false);
            RequireTimeout(nameof(FilterTimeout), FilterTimeout, zeroAllowed: false);
            RequireTimeout(nameof(SendTimeout), SendTimeout, zeroAllowed: true);
            RequireTimeout(nameof(BufferedBytesTimeout), BufferedBytesTimeout, zeroAllowed: false);
            if (MaxBufferedBytes < 0)
                throw new ArgumentException($"{nameof(MaxBufferedBytes)} must be 0 (no budget) or more, got {MaxBufferedBytes}");
            Connection.Validate();
            GcAfterPeerBurst.Validate();
            GcWhenIdle.Validate();
        }

        private static void RequireTimeout(string name, TimeSpan value, bool zeroAllowed)
        {
            if (value < TimeSpan.Zero || value == TimeSpan.Zero && !zeroAllowed || value > MaxTimeout)
                throw new ArgumentException(
                    $"{name} must be {(zeroAllowed ? "from 0" : "longer than 0")} to {MaxTimeout.TotalHours:0} h, got {value}");
        }

        /// <summary>The switch's settings from a node's validated <c>tendermint.p2p</c> settings.</summary>
        public static Settings From(Configuration.P2PSettings p2p) => new()
        {
            Moniker = p2p.Moniker,
            Network = p2p.Network,
            Version = p2p.Version,
            ProtocolVersion = p2p.ProtocolVersion,
            TxIndex = p2p.TxIndex,
            RpcAddress = p2p.RpcAddress,
            ListenHost = p2p.ListenAddress.Host,
            ListenPort = p2p.ListenAddress.Port,
            ExternalAddress = p2p.ExternalAddress is { } external ? NetAddress.FormatHostPort(external.Host, external.Port) : null,
            MaxInboundPeers = p2p.MaxNumInboundPeers,
            MaxOutboundPeers = p2p.MaxNumOutboundPeers,
            AllowDuplicateIp = p2p.AllowDuplicateIp,
            UnconditionalPeerIds = p2p.UnconditionalPeerIds,
            PrivatePeerIds = p2p.PrivatePeerIds,
            PersistentPeers = p2p.PersistentPeers,
            PersistentPeersMaxDialPeriod = p2p.PersistentPeersMaxDialPeriod,
            PersistentPeersInitialRedials = p2p.PersistentPeersInitialRedials,
            PersistentPeersRedialInterval = p2p.PersistentPeersRedialInterval,
            PersistentPeersRedialJitter = p2p.PersistentPeersRedialJitter,
            PersistentPeersBackoffSteps = p2p.PersistentPeersBackoffSteps,
            HandshakeTimeout = p2p.HandshakeTimeout,
            DialTimeout = p2p.DialTimeout,
            MaxConcurrentHandshakes = p2p.MaxConcurrentHandshakes,
            MaxIncomingConnectionAttempts = p2p.MaxIncomingConnectionAttempts,
            ConnectionAttemptWindow = p2p.ConnectionAttemptWindow,
            SendTimeout = p2p.SendQueueSendTimeout,
            DialStartJitter = p2p.DialStartJitter,
            FilterTimeout = p2p.FilterTimeout,
            MaxBufferedBytes = p2p.MaxBufferedBytes,
            BufferedBytesTimeout = p2p.BufferedBytesTimeout,
            GcAfterPeerBurst = p2p.GcAfterPeerBurst,
            GcWhenIdle = p2p.GcWhenIdle,
            Connection = new MConnectionSettings
            {
                MaxPacketMsgPayloadSize = p2p.MaxPacketMsgPayloadSize,
                PingInterval = p2p.PingInterval,
                PongTimeout = p2p.PongTimeout,
                FlushThrottle = p2p.FlushThrottleTimeout,
                SendRate = p2p.SendRate,
                RecvRate = p2p.RecvRate,
                StatusDecayInterval = p2p.StatusDecayInterval,
                MaxWriteBatchBytes = (int)p2p.MaxWriteBatch,
                ReceiveWindowBytes = p2p.RecvWindow,
                QueueType = p2p.QueueType,
            },
        };
    }

    /// <summary>
    /// Dial these addresses now (as Go's DialPeersAsync); persistent ones are redialled when they drop, unconditional
    /// ones join <see cref="Settings.UnconditionalPeerIds"/> (exempt from the peer limits) from now on.
    /// </summary>
    public sealed record DialPeers(IReadOnlyList<NetAddress> Addresses, bool Persistent = false, bool Unconditional = false) : ICommand;

    /// <summary>Send <paramref name="Message"/> on <paramref name="Channel"/> to every peer that has the channel.</summary>
    public sealed record Broadcast(byte Channel, ReadOnlyMemory<byte> Message) : ICommand;

    /// <summary>Stop a peer: for error (a persistent one is redialled) or gracefully (queued messages flushed first).</summary>
    public sealed record StopPeer(NodeId Id, PeerStopReason Reason, bool Graceful = false) : ICommand;

    /// <summary>
    /// Stop politely: stop listening and redialling, stop every peer gracefully (queued messages flushed), and answer
    /// <see cref="ShutdownComplete"/> once all connections have ended and, over the socket transport
    /// (<see cref="Transport.TcpTransport"/>), each socket's last bytes and FIN are handed to the kernel, or
    /// <paramref name="Timeout"/> passed. Stopping the actor system after the answer closes those connections in order;
    /// one stopped before its FIN is out is reset. The switch itself keeps running (empty) until it is stopped;
    /// CoordinatedShutdown uses this before stopping it.
    /// </summary>
    public sealed record Shutdown(TimeSpan Timeout) : ICommand;

    /// <param name="PeersLeft">Peers and handshakes that had not ended when the timeout passed.</param>
    /// <param name="ConnectionsClosing">
    /// Connections over the socket transport whose socket had not yet written its last bytes and its FIN when the
    /// timeout passed, whether their peer had ended (a remote that no longer reads) or not (counted in
    /// <paramref name="PeersLeft"/> too): stopping the actor system resets them.
    /// </param>
    public sealed record ShutdownComplete(int PeersLeft, int ConnectionsClosing = 0);

    public sealed record GetPeers : ICommand
    {
        public static readonly GetPeers Instance = new();
    }

    public sealed record Peers(IReadOnlyList<PeerHandle> Connected);

    /// <summary>
    /// Asks for <see cref="DialState"/>: who is connected and who is being dialled (what PEX decides with).
    /// <paramref name="Tag"/> comes back in the reply, so the asker can tell its rounds apart.
    /// </summary>
    public sealed record GetDialState(object? Tag = null) : ICommand;

    /// <summary>The switch's peers and dials at one moment, with the limits that PEX fills up to.</summary>
    public sealed record DialState(
        IReadOnlyList<PeerHandle> Peers,
        IReadOnlyCollection<NodeId> Dialling,
        IReadOnlySet<NodeId> PersistentPeerIds,
        int MaxOutboundPeers,
        bool AllowDuplicateIp,
        object? Tag)
    {
        public int Outbound => Peers.Count(p => p.IsOutbound);

        public int Inbound => Peers.Count - Outbound;

        public bool IsPersistent(NodeId id) => PersistentPeerIds.Contains(id);

        /// <summary>Go's IsDialingOrExistingAddress: the ID is connected or being dialled, or (unless duplicate IPs are
        /// allowed) a peer already has the address's IP.</summary>
        public bool IsDiallingOrConnected(NetAddress address) =>
            Dialling.Contains(address.Id)
            || Peers.Any(p => p.Id == address.Id)
            || (!AllowDuplicateIp && address.Ip is { } ip && Peers.Any(p => ip.Equals(p.RemoteIp)));
    }

    public sealed record GetNodeInfo : ICommand
    {
        public static readonly GetNodeInfo Instance = new();
    }

    /// <summary>Our node info and where we listen (null when not listening).</summary>
    public sealed record NodeInfoReply(NodeInfoModel NodeInfo, System.Net.EndPoint? ListenAddress);

    /// <summary>Subscribe to switch events (<see cref="PeerConnected"/>, <see cref="PeerDisconnected"/>, <see cref="Listening"/> or <see cref="ListenFailed"/>).</summary>
    public sealed record Subscribe(IActorRef Subscriber) : ICommand;

    public sealed record Listening(NodeInfoModel NodeInfo, System.Net.EndPoint? ListenAddress);

    /// <summary>
    /// Instead of <see cref="Listening"/>: the switch could not bind <paramref name="ListenAddress"/> (host:port) and
    /// has stopped. <see cref="Reason"/> is the socket's error, e.g. "Address already in use".
    /// </summary>
    public sealed record ListenFailed(string ListenAddress, Exception Error)
    {
        /// <summary>The innermost error's message: the transport's error usually wraps the socket's.</summary>
        public string Reason => Error.GetBaseException().Message;
    }

    public sealed record PeerConnected(PeerHandle Peer);

    public sealed record PeerDisconnected(PeerHandle Peer, PeerStopReason Reason);

    /// <summary>A connection that did not become a peer, and why (rejections, failed dials and upgrades).</summary>
    public sealed record ConnectionRejected(NodeId? Id, NetAddress? Dialled, PeerStopReason Reason);

    /// <summary>The switch of one node. <paramref name="metrics"/>, when given, records CometBFT's p2p metrics.</summary>
    public static Props Props(NodeKey key, Settings settings, IReadOnlyList<ReactorRegistration> reactors, IP2PTransport transport,
        Metrics.P2PMetrics? metrics = null)
    {
        Check(key, settings, reactors);
        return Akka.Actor.Props.Create(() => new SwitchActor(key, settings, reactors, transport, metrics));
    }

    /// <summary>What <see cref="Props"/> checks, for callers that start other actors first (the hosting's PEX).</summary>
    internal static void Check(NodeKey key, Settings settings, IReadOnlyList<ReactorRegistration> reactors)
    {
        settings.Validate();
        CheckOwnNodeInfo(key, settings, reactors);
    }

    /// <summary>
    /// Builds the node info this switch would send (with the listen address it is configured with) and checks it as a
    /// peer will: what a peer refuses would fail every handshake, with nothing on our side saying why. Throws
    /// <see cref="ArgumentException"/>: channels owned twice or out of range, more than 16 channels, a moniker,
    /// version, tx index, RPC or external address peers refuse, or more than <see cref="NodeInfoModel.MaxSize"/> bytes.
    /// </summary>
    private static void CheckOwnNodeInfo(NodeKey key, Settings settings, IReadOnlyList<ReactorRegistration> reactors)
    {
        var owners = new Dictionary<byte, string>();
        foreach (var registration in reactors)
            foreach (var channel in registration.Channels)
                if (!owners.TryAdd(channel.Id, registration.Name))
                    throw new ArgumentException($"channel 0x{channel.Id:x2} of reactor '{registration.Name}' is already owned by reactor '{owners[channel.Id]}'");
        ChannelDescriptor.ValidateSet(reactors.SelectMany(r => r.Channels));
        var listen = settings.ExternalAddress is { Length: > 0 } external
            ? external
            : NetAddress.FormatHostPort(settings.ListenHost ?? "0.0.0.0", settings.ListenPort);
        var info = NodeInfoModel.Create(key.Id, "tcp://" + listen, settings.Network, settings.Moniker, owners.Keys,
            settings.Version, settings.ProtocolVersion, settings.TxIndex, settings.RpcAddress);
        try
        {
            info.Validate();
        }
        catch (Protocol.Errors.NodeInfoRejectedException e)
        {
            throw new ArgumentException($"peers would refuse this node's info: {e.Detail}", e);
        }
        var size = info.ToProto().CalculateSize();
        if (size > NodeInfoModel.MaxSize)
            throw new ArgumentException(
                $"this node's info takes {size} bytes, more than the {NodeInfoModel.MaxSize} peers accept: shorten the moniker, network, version or RPC address");
    }
}
