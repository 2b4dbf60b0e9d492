using System.Text.RegularExpressions;
using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.NodeInfo;

namespace TendermintActors.Tests.Configuration;

public class P2PSettingsSpecs
{
    private const string IdA = "2397b9cda2ec19d802cd523bdb0089d5b30854ec";
    private const string IdB = "0123456789abcdef0123456789abcdef01234567";
    private const string LongNamespace =
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij" +
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijx"; // 201

    private static P2PSettings With(string hocon) =>
        P2PSettings.Create(ConfigurationFactory.ParseString($"tendermint.p2p {{\n{hocon}\n}}").WithFallback(P2PReferenceConfig.Load()));

    private static P2PConfigurationException Rejects(string hocon) =>
        Assert.Throws<P2PConfigurationException>(() => With(hocon));

    [Fact]
    public void Defaults_are_the_values_of_protocol_md_section_9_and_gos_timers()
    {
        var s = P2PSettings.Default;

        // docs/protocol.md §9 and the node-level keys.
        Assert.Equal("tmactors", s.Moniker);
        Assert.Equal("test-net", s.Network);
        Assert.Equal("config/node_key.json", s.NodeKeyFile);
        Assert.Equal("0.1.0", s.Version);
        Assert.Equal(new HostAndPort("0.0.0.0", 26656), s.ListenAddress);
        Assert.Null(s.ExternalAddress);
        Assert.Empty(s.Seeds);
        Assert.Empty(s.PersistentPeers);
        Assert.False(s.Upnp);
        Assert.Equal("config/addrbook.json", s.AddrBookFile);
        Assert.True(s.AddrBookStrict);
        Assert.Equal(40, s.MaxNumInboundPeers);
        Assert.Equal(10, s.MaxNumOutboundPeers);
        Assert.Equal(64, s.MaxConnections);
        Assert.Equal(100, s.MaxIncomingConnectionAttempts);
        Assert.Empty(s.UnconditionalPeerIds);
        Assert.Equal(TimeSpan.Zero, s.PersistentPeersMaxDialPeriod);
        Assert.Equal(TimeSpan.FromMilliseconds(100), s.FlushThrottleTimeout);
        Assert.Equal(1024, s.MaxPacketMsgPayloadSize);
        Assert.Equal(5_120_000, s.SendRate);
        Assert.Equal(5_120_000, s.RecvRate);
        Assert.True(s.Pex);
        Assert.False(s.SeedMode);
        Assert.Empty(s.PrivatePeerIds);
        Assert.False(s.AllowDuplicateIp);
        Assert.Equal(TimeSpan.FromSeconds(20), s.HandshakeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), s.DialTimeout);

        // What Go hard-codes (docs/protocol.md §4-§8) and our own bounds.
        Assert.Equal(TimeSpan.FromSeconds(60), s.PingInterval);
        Assert.Equal(TimeSpan.FromSeconds(45), s.PongTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), s.SendQueueSendTimeout);
        Assert.Equal(SendQueueType.Priority, s.QueueType);
        Assert.Equal(P2PTransportKind.Sockets, s.Transport);
        Assert.IsType<TendermintActors.Transport.TcpTransport>(s.CreateTransport());
        Assert.Equal(TimeSpan.FromSeconds(2), s.StatusDecayInterval);
        Assert.Equal(64 * 1024, s.MaxWriteBatch);
        Assert.Equal(256 * 1024, s.RecvWindow);
        Assert.Equal(256L * 1024 * 1024, s.MaxBufferedBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), s.BufferedBytesTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), s.EnsurePeersPeriod);
        Assert.Equal(20, s.PersistentPeersInitialRedials);
        Assert.Equal(TimeSpan.FromSeconds(5), s.PersistentPeersRedialInterval);
        Assert.Equal(TimeSpan.FromSeconds(3), s.PersistentPeersRedialJitter);
        Assert.Equal(10, s.PersistentPeersBackoffSteps);
        Assert.Equal(TimeSpan.FromSeconds(3), s.DialStartJitter);
        Assert.Equal(64, s.MaxConcurrentHandshakes);
        Assert.Equal(TimeSpan.FromSeconds(60), s.ConnectionAttemptWindow);
        Assert.Equal(TimeSpan.FromSeconds(5), s.FilterTimeout);
        Assert.Equal(new ProtocolVersion(8, 11, 0), s.ProtocolVersion);
        Assert.Equal(ProtocolVersion.Default, s.ProtocolVersion);
        Assert.Equal("off", s.TxIndex);
        Assert.Equal("", s.RpcAddress);
        Assert.Equal(new P2PMetricsSettings(PerPeerLabels: true, Namespace: "cometbft"), s.Metrics);
        Assert.Equal(TimeSpan.FromHours(28), s.SeedDisconnectWaitPeriod);
        Assert.Equal(TimeSpan.FromSeconds(30), s.CrawlPeriod);
        Assert.Equal(TimeSpan.FromMinutes(2), s.MinTimeBetweenCrawls);
        Assert.Equal(16, s.PexMaxDialAttempts);
        Assert.Equal(TimeSpan.FromHours(24), s.PexBanTime);
        Assert.Equal(1, s.PexEarlyRequestsTolerated);
        Assert.Equal(TimeSpan.FromMinutes(2), s.AddrBookSaveInterval);

        Assert.Equal(s.ListenAddress, s.AdvertisedAddress);
        Assert.Empty(s.Warnings());
    }

    [Fact]
    public void Overrides_replace_defaults_and_leave_the_rest()
    {
        var s = With("""
            moniker = "alpha node"
            max-num-inbound-peers = 3
            ping-interval = 2m
            pong-timeout = 90s
            send-rate = 0
            max-write-batch = 1MiB
            recv-window = 1MiB
            max-buffered-bytes = 0
            buffered-bytes-timeout = 5s
            max-packet-msg-payload-size = 1400
            external-address = "tcp://[2001:db8::1]:26657"
            protocol-version.block = 12
            metrics.per-peer-labels = off
            tx-index = on
            """);

        Assert.Equal("alpha node", s.Moniker);
        Assert.Equal(3, s.MaxNumInboundPeers);
        Assert.Equal(TimeSpan.FromMinutes(2), s.PingInterval);
        Assert.Equal(TimeSpan.FromSeconds(90), s.PongTimeout);
        Assert.Equal(0, s.SendRate);
        Assert.Equal(1024 * 1024, s.MaxWriteBatch);
        Assert.Equal(1024 * 1024, s.RecvWindow);
        Assert.Equal(0, s.MaxBufferedBytes); // 0 = no budget
        Assert.Equal(TimeSpan.FromSeconds(5), s.BufferedBytesTimeout);
        // The switch hands both to every connection.
        var connection = TendermintActors.Switching.Switch.Settings.From(s).Connection;
        Assert.Equal(1024 * 1024, connection.MaxWriteBatchBytes);
        Assert.Equal(1024 * 1024, connection.ReceiveWindowBytes);
        Assert.Equal(1400, s.MaxPacketMsgPayloadSize);
        Assert.Equal(new HostAndPort("2001:db8::1", 26657), s.ExternalAddress);
        Assert.Equal("[2001:db8::1]:26657", s.AdvertisedAddress.ToString());
        Assert.Equal(new ProtocolVersion(8, 12, 0), s.ProtocolVersion);
        Assert.Equal(new P2PMetricsSettings(PerPeerLabels: false, Namespace: "cometbft"), s.Metrics);
        Assert.Equal("on", s.TxIndex);
        // Untouched keys keep the reference value.
        Assert.Equal(10, s.MaxNumOutboundPeers);
        Assert.Equal(5_120_000, s.RecvRate);
    }

    [Fact]
    public void The_collection_after_a_burst_of_peers_reaches_the_switch()
    {
        var defaults = TendermintActors.Switching.Switch.Settings.From(With("")).GcAfterPeerBurst;
        Assert.Equal(new TendermintActors.Switching.Switch.PeerBurstCollection(), defaults);

        var set = TendermintActors.Switching.Switch.Settings.From(With("""
            gc-after-peer-burst {
              min-peers = 0
              min-allocated = 1MiB
              quiet-period = 30s
              min-interval = 1h
            }
            """)).GcAfterPeerBurst;
        Assert.Equal(new TendermintActors.Switching.Switch.PeerBurstCollection
        {
            MinPeers = 0, MinAllocatedBytes = 1024 * 1024, QuietPeriod = TimeSpan.FromSeconds(30), MinInterval = TimeSpan.FromHours(1),
        }, set);
    }

    [Fact]
    public void The_idle_collection_reaches_the_switch_off_by_default()
    {
        var defaults = TendermintActors.Switching.Switch.Settings.From(With("")).GcWhenIdle;
        Assert.Equal(new TendermintActors.Switching.Switch.IdleCollection(), defaults);
        Assert.Equal(0, defaults.MinAllocatedBytes);

        var set = TendermintActors.Switching.Switch.Settings.From(With("""
            gc-when-idle {
              min-allocated = 2MiB
              check-interval = 30s
            }
            """)).GcWhenIdle;
        Assert.Equal(new TendermintActors.Switching.Switch.IdleCollection
        {
            MinAllocatedBytes = 2 * 1024 * 1024, CheckInterval = TimeSpan.FromSeconds(30),
        }, set);
    }

    [Fact]
    public void The_akka_io_transport_is_chosen_by_name()
    {
        var settings = With("transport = akka-io");
        Assert.Equal(P2PTransportKind.AkkaIo, settings.Transport);
        Assert.IsType<TendermintActors.Transport.AkkaIoTransport>(settings.CreateTransport());
    }

    [Theory]
    [InlineData("priority", SendQueueType.Priority)]
    [InlineData("fifo", SendQueueType.Fifo)]
    [InlineData("wdrr", SendQueueType.Wdrr)]
    public void The_queue_type_reaches_every_connections_scheduler(string name, SendQueueType expected)
    {
        var settings = With($"queue-type = {name}");
        Assert.Equal(expected, settings.QueueType);
        Assert.Equal(expected, TendermintActors.Switching.Switch.Settings.From(settings).Connection.QueueType);
    }

    [Fact]
    public void Lists_trim_spaces_and_skip_empty_entries()
    {
        var s = With($"""
            seeds = " {IdA}@1.2.3.4:26656 ,, tcp://{IdB}@seed.example.com:26656 , "
            persistent-peers = ["{IdA}@[::1]:26656", " {IdB.ToUpperInvariant()}@10.0.0.1:1 ", ""]
            unconditional-peer-ids = " {IdA} , ,{IdB.ToUpperInvariant()},{IdA}"
            private-peer-ids = " , "
            """);

        Assert.Equal([NetAddress.Parse($"{IdA}@1.2.3.4:26656"), NetAddress.Parse($"{IdB}@seed.example.com:26656")], s.Seeds);
        Assert.True(s.Seeds[1].IsDnsName);
        Assert.Equal([NetAddress.Parse($"{IdA}@[::1]:26656"), NetAddress.Parse($"{IdB}@10.0.0.1:1")], s.PersistentPeers);
        Assert.True(s.UnconditionalPeerIds.SetEquals([NodeId.Parse(IdA), NodeId.Parse(IdB)]));
        Assert.Empty(s.PrivatePeerIds);
    }

    [Theory]
    [InlineData("laddr = \"tcp://127.0.0.1:0\"", "127.0.0.1", 0)]
    [InlineData("laddr = \"[::]:26656\"", "::", 26656)]
    [InlineData("laddr = \"localhost:1\"", "localhost", 1)]
    public void Listen_address_is_host_and_port_and_may_let_the_os_pick_the_port(string hocon, string host, int port) =>
        Assert.Equal(new HostAndPort(host, port), With(hocon).ListenAddress);

    [Fact]
    public void Outer_whitespace_of_strings_is_dropped_as_akkas_hocon_does()
    {
        var s = With("""
            moniker = "  node one "
            version = "   "
            """);
        Assert.Equal("node one", s.Moniker);
        Assert.Equal("", s.Version);
    }

    [Fact]
    public void Unusual_but_allowed_values_are_warnings_not_errors()
    {
        var s = With("""
            max-packet-msg-payload-size = 4096
            pex = off
            """);
        Assert.Equal(4096, s.MaxPacketMsgPayloadSize);
        Assert.Collection(s.Warnings(),
            w => Assert.StartsWith("tendermint.p2p.max-packet-msg-payload-size = 4096:", w),
            w => Assert.Contains("tendermint.p2p.pex = off", w));
    }

    [Theory]
    [InlineData("5s", "may ask a Go peer for addresses more often than every 10 s")]
    [InlineData("91s", "Go peers ask every 30 s: they would be banned")]
    public void An_ensure_peers_period_Go_peers_would_fall_out_with_is_a_warning(string period, string expected)
    {
        var s = With($"ensure-peers-period = {period}");

        Assert.Contains(s.Warnings(), w => w.StartsWith($"tendermint.p2p.ensure-peers-period = {period}:") && w.Contains(expected));
        Assert.Empty(With("ensure-peers-period = 10s").Warnings());
        Assert.Empty(With("ensure-peers-period = 90s").Warnings());
    }

    [Fact]
    public void The_message_names_key_value_and_what_is_allowed()
    {
        var e = Rejects("pong-timeout = 60s");
        Assert.Equal("tendermint.p2p.pong-timeout", e.Key);
        Assert.Equal("60s", e.Value);
        Assert.StartsWith("tendermint.p2p.pong-timeout = 60s: must be shorter than tendermint.p2p.ping-interval (60s)", e.Message);
    }

    // One row per rule: the HOCON inside tendermint.p2p, the key reported, the value as the message shows it,
    // and a piece of what the message says is allowed.
    [Theory]
    // counts
    [InlineData("max-num-inbound-peers = -1", "max-num-inbound-peers", "-1", "0 or more")]
    [InlineData("max-num-outbound-peers = -1", "max-num-outbound-peers", "-1", "0 or more")]
    [InlineData("max-connections = -1", "max-connections", "-1", "0 or more")]
    [InlineData("max-incoming-connection-attempts = 0", "max-incoming-connection-attempts", "0", "1 or more")]
    [InlineData("max-concurrent-handshakes = 0", "max-concurrent-handshakes", "0", "1 or more")]
    [InlineData("persistent-peers-initial-redials = -1", "persistent-peers-initial-redials", "-1", "0 or more")]
    [InlineData("persistent-peers-backoff-steps = 19", "persistent-peers-backoff-steps", "19", "from 0 to 18")]
    [InlineData("protocol-version.block = -1", "protocol-version.block", "-1", "0 or more")]
    // sizes and rates
    [InlineData("max-packet-msg-payload-size = 0", "max-packet-msg-payload-size", "0", "from 1 to 1048576")]
    [InlineData("max-packet-msg-payload-size = 2MiB", "max-packet-msg-payload-size", "2MiB", "from 1 to 1048576")]
    [InlineData("max-write-batch = 1000", "max-write-batch", "1000", "from 1044 to")]
    [InlineData("recv-window = 0", "recv-window", "0", "from 1 to")]
    [InlineData("max-buffered-bytes = -1", "max-buffered-bytes", "-1", "from 0 to")]
    [InlineData("buffered-bytes-timeout = 0s", "buffered-bytes-timeout", "0s", "longer than 0s")]
    [InlineData("buffered-bytes-timeout = 2h", "buffered-bytes-timeout", "2h", "must be at most 1h")]
    [InlineData("send-rate = -1", "send-rate", "-1", "0 = unlimited")]
    [InlineData("recv-rate = -1", "recv-rate", "-1", "0 = unlimited")]
    // durations that must be > 0
    [InlineData("ping-interval = 0s", "ping-interval", "0s", "longer than 0s")]
    [InlineData("flush-throttle-timeout = 0s", "flush-throttle-timeout", "0s", "longer than 0s")]
    [InlineData("dial-timeout = 2h", "dial-timeout", "2h", "must be at most 1h")]
    [InlineData("handshake-timeout = 50d", "handshake-timeout", "50d", "must be at most 1h")]
    [InlineData("filter-timeout = 61m", "filter-timeout", "61m", "must be at most 1h")]
    [InlineData("send-queue-send-timeout = 2h", "send-queue-send-timeout", "2h", "must be at most 1h")]
    [InlineData("pong-timeout = 0s", "pong-timeout", "0s", "longer than 0s")]
    [InlineData("handshake-timeout = 0s", "handshake-timeout", "0s", "longer than 0s")]
    [InlineData("dial-timeout = 0ms", "dial-timeout", "0ms", "longer than 0s")]
    [InlineData("filter-timeout = 0s", "filter-timeout", "0s", "longer than 0s")]
    [InlineData("ensure-peers-period = 0s", "ensure-peers-period", "0s", "longer than 0s")]
    [InlineData("status-decay-interval = 0s", "status-decay-interval", "0s", "longer than 0s")]
    [InlineData("connection-attempt-window = 0s", "connection-attempt-window", "0s", "longer than 0s")]
    [InlineData("persistent-peers-redial-interval = 0s", "persistent-peers-redial-interval", "0s", "longer than 0s")]
    [InlineData("addr-book-save-interval = 0s", "addr-book-save-interval", "0s", "longer than 0s")]
    [InlineData("crawl-period = 0s", "crawl-period", "0s", "longer than 0s")]
    [InlineData("pex-ban-time = 0s", "pex-ban-time", "0s", "longer than 0s")]
    [InlineData("min-time-between-crawls = -1s", "min-time-between-crawls", "-1s", "must not be negative")]
    [InlineData("pex-max-dial-attempts = 0", "pex-max-dial-attempts", "0", "1 or more")]
    [InlineData("pex-early-requests-tolerated = -1", "pex-early-requests-tolerated", "-1", "0 or more")]
    // durations that must be >= 0
    [InlineData("persistent-peers-max-dial-period = -1s", "persistent-peers-max-dial-period", "-1s", "must not be negative")]
    [InlineData("flush-throttle-timeout = -100ms", "flush-throttle-timeout", "-100ms", "must not be negative")]
    [InlineData("dial-start-jitter = -1s", "dial-start-jitter", "-1s", "must not be negative")]
    [InlineData("persistent-peers-redial-jitter = -1s", "persistent-peers-redial-jitter", "-1s", "must not be negative")]
    [InlineData("send-queue-send-timeout = -1s", "send-queue-send-timeout", "-1s", "must not be negative")]
    [InlineData("seed-disconnect-wait-period = -1h", "seed-disconnect-wait-period", "-1h", "must not be negative")]
    // rules between keys
    [InlineData("pong-timeout = 2m", "pong-timeout", "2m", "shorter than tendermint.p2p.ping-interval (60s)")]
    [InlineData("seed-mode = on\npex = off", "seed-mode", "on", "tendermint.p2p.pex = on")]
    // node info text
    [InlineData("moniker = \"\"", "moniker", "\"\"", "must not be empty")]
    // Akka's HOCON trims a string's outer whitespace, so only spaces read as empty.
    [InlineData("moniker = \"   \"", "moniker", "\"\"", "must not be empty")]
    [InlineData("moniker = \"caf\u00e9\"", "moniker", "\"caf\u00e9\"", "printable ASCII")]
    [InlineData("moniker = \"a\\tb\"", "moniker", "\"a\\u0009b\"", "printable ASCII")]
    [InlineData("network = \"\"", "network", "\"\"", "must not be empty")]
    [InlineData("network = \"a\\u0001b\"", "network", "\"a\\u0001b\"", "printable ASCII")]
    [InlineData("version = \"1.0\\u007f\"", "version", "\"1.0\\u007f\"", "printable ASCII")]
    [InlineData("rpc-address = \"\u00e9\"", "rpc-address", "\"\u00e9\"", "printable ASCII")]
    [InlineData("tx-index = maybe", "tx-index", "\"maybe\"", "\"on\", \"off\" or \"\"")]
    [InlineData("queue-type = lifo", "queue-type", "\"lifo\"", "\"priority\", \"fifo\" or \"wdrr\"")]
    [InlineData("transport = akka", "transport", "\"akka\"", "\"sockets\" or \"akka-io\"")]
    [InlineData("gc-after-peer-burst.min-peers = -1", "gc-after-peer-burst.min-peers", "-1", "0 = never collect")]
    [InlineData("gc-after-peer-burst.min-allocated = -1", "gc-after-peer-burst.min-allocated", "-1", "from 0 to")]
    [InlineData("gc-after-peer-burst.quiet-period = 0s", "gc-after-peer-burst.quiet-period", "0s", "longer than 0s")]
    [InlineData("gc-after-peer-burst.quiet-period = 2h", "gc-after-peer-burst.quiet-period", "2h", "must be at most 1h")]
    [InlineData("gc-after-peer-burst.min-interval = 0s", "gc-after-peer-burst.min-interval", "0s", "longer than 0s")]
    [InlineData("gc-when-idle.min-allocated = -1", "gc-when-idle.min-allocated", "-1", "from 0 to")]
    [InlineData("gc-when-idle.min-allocated = lots", "gc-when-idle.min-allocated", "lots", "a size in bytes")]
    [InlineData("gc-when-idle.check-interval = 0s", "gc-when-idle.check-interval", "0s", "longer than 0s")]
    [InlineData("gc-when-idle.check-interval = 2h", "gc-when-idle.check-interval", "2h", "must be at most 1h")]
    [InlineData("metrics.namespace = \"1abc\"", "metrics.namespace", "\"1abc\"", "starting with a letter")]
    [InlineData("metrics.namespace = \"_abc\"", "metrics.namespace", "\"_abc\"", "starting with a letter")]
    [InlineData("metrics.namespace = \"a-b\"", "metrics.namespace", "\"a-b\"", "letters, digits and '_'")]
    [InlineData("pex-ban-time = 36501d", "pex-ban-time", "36501d", "must be at most 36500d")]
    [InlineData("metrics.namespace = " + LongNamespace, "metrics.namespace", "\"" + LongNamespace + "\"", "at most 200 characters")]
    [InlineData("node-key-file = \"\"", "node-key-file", "\"\"", "file path")]
    [InlineData("addr-book-file = \" \"", "addr-book-file", "\"\"", "file path")]
    [InlineData("upnp = on", "upnp", "on", "not supported")]
    // addresses
    [InlineData("laddr = \"udp://0.0.0.0:26656\"", "laddr", "\"udp://0.0.0.0:26656\"", "protocol 'udp' is not supported")]
    [InlineData("laddr = \"tcp://0.0.0.0\"", "laddr", "\"tcp://0.0.0.0\"", "has no port")]
    [InlineData("laddr = \"tcp://0.0.0.0:70000\"", "laddr", "\"tcp://0.0.0.0:70000\"", "from 1 to 65535")]
    [InlineData("laddr = \"tcp://bad_host!:0\"", "laddr", "\"tcp://bad_host!:0\"", "'tcp://bad_host!:0'")]
    [InlineData("external-address = \"somewhere\"", "external-address", "\"somewhere\"", "has no port")]
    [InlineData("external-address = \"1.2.3.4:0\"", "external-address", "\"1.2.3.4:0\"", "from 1 to 65535")]
    [InlineData("seeds = \"" + IdA + "@1.2.3.4:26656, bad\"", "seeds", "\"" + IdA + "@1.2.3.4:26656, bad\"", "'bad'")]
    [InlineData("seeds = \"" + IdA + "@1.2.3.4\"", "seeds", "\"" + IdA + "@1.2.3.4\"", "has no port")]
    [InlineData("persistent-peers = \"xyz@1.2.3.4:26656\"", "persistent-peers", "\"xyz@1.2.3.4:26656\"", "node ID 'xyz'")]
    [InlineData("persistent-peers = [\"" + IdA + "@host:1\", \"nope\"]", "persistent-peers", "[", "'nope'")]
    [InlineData("unconditional-peer-ids = \"abc\"", "unconditional-peer-ids", "\"abc\"", "node ID 'abc'")]
    [InlineData("private-peer-ids = \"" + IdA + ",zz\"", "private-peer-ids", "\"" + IdA + ",zz\"", "node ID 'zz'")]
    // HOCON type errors
    [InlineData("max-num-inbound-peers = abc", "max-num-inbound-peers", "abc", "whole number")]
    [InlineData("max-num-outbound-peers = 1.5", "max-num-outbound-peers", "1.5", "whole number")]
    [InlineData("max-connections = 99999999999", "max-connections", "99999999999", "must be at most 2147483647")]
    [InlineData("send-rate = fast", "send-rate", "fast", "whole number")]
    [InlineData("pex = maybe", "pex", "maybe", "on or off")]
    [InlineData("ping-interval = soon", "ping-interval", "soon", "a duration such as")]
    [InlineData("max-write-batch = lots", "max-write-batch", "lots", "a size in bytes")]
    [InlineData("moniker = [a, b]", "moniker", "[", "must be a string")]
    [InlineData("network = null", "network", "null", "must be a string")]
    [InlineData("seeds { a = 1 }", "seeds", "{ ... }", "comma-separated string")]
    public void Invalid_values_are_refused_naming_key_value_and_what_is_allowed(string hocon, string key, string shown, string allowed)
    {
        var e = Rejects(hocon);
        var fullKey = "tendermint.p2p." + key;
        Assert.Equal(fullKey, e.Key);
        Assert.NotNull(e.Value);
        Assert.StartsWith($"{fullKey} = {shown}", e.Message);
        Assert.Contains(allowed, e.Message);
    }

    [Fact]
    public void A_config_without_the_section_says_to_fall_back_to_the_reference()
    {
        var e = Assert.Throws<P2PConfigurationException>(() => P2PSettings.Create(ConfigurationFactory.ParseString("akka.loglevel = INFO")));
        Assert.Equal("tendermint.p2p", e.Key);
        Assert.Null(e.Value);
        Assert.Contains(nameof(P2PReferenceConfig), e.Message);
    }

    // Every key reference.conf declares, with its line, read from the embedded copy that the library falls back to.
    public static TheoryData<string> ReferenceKeys()
    {
        var data = new TheoryData<string>();
        // tendermint.rpc belongs to the node (tests/TendermintActors.Node.Tests reads it there).
        foreach (var (key, _) in KeyLines(P2PReferenceConfig.Text()).Where(k => k.Key.StartsWith(P2PSettings.Section + ".", StringComparison.Ordinal)))
            data.Add(key);
        return data;
    }

    // Without the fallback, a reference.conf missing one key must fail on exactly that key: this proves that the
    // settings read every key and take no default from code.
    [Theory]
    [MemberData(nameof(ReferenceKeys))]
    public void Every_reference_key_is_read_and_has_no_default_in_code(string key)
    {
        var lines = P2PReferenceConfig.Text().Split('\n');
        var line = KeyLines(P2PReferenceConfig.Text()).Single(k => k.Key == key).Line;
        var withoutKey = string.Join('\n', lines.Where((_, i) => i != line));

        var e = Assert.Throws<P2PConfigurationException>(() => P2PSettings.Create(ConfigurationFactory.ParseString(withoutKey)));
        Assert.Equal(key, e.Key);
        Assert.Null(e.Value);
        Assert.Contains(nameof(P2PReferenceConfig), e.Message);
    }

    [Fact]
    public void Every_reference_key_has_a_comment_above_it()
    {
        var lines = P2PReferenceConfig.Text().Split('\n');
        var keys = KeyLines(P2PReferenceConfig.Text()).ToList();
        Assert.True(keys.Count >= 45, $"only {keys.Count} keys found: is the reference parsed?");
        foreach (var (key, line) in keys)
            Assert.True(lines[line - 1].TrimStart().StartsWith('#'), $"{key} has no comment above it");
        foreach (var block in lines.Where(l => l.TrimEnd().EndsWith('{') && !l.StartsWith("tendermint.p2p")))
            Assert.True(lines[Array.IndexOf(lines, block) - 1].TrimStart().StartsWith('#'), $"'{block.Trim()}' has no comment above it");
    }

    [Theory]
    [InlineData("low")]
    [InlineData("high")]
    public void Every_setting_at_the_edge_of_what_the_reader_accepts_builds_the_objects_a_switch_runs_on(string edge)
    {
        // Whatever passes the check at start must not fail later, when the switch or a connection starts.
        string[] low =
        [
            "max-incoming-connection-attempts = 1", "max-concurrent-handshakes = 1", "connection-attempt-window = 1ms",
            "persistent-peers-initial-redials = 0", "persistent-peers-redial-interval = 1ms", "persistent-peers-redial-jitter = 0s",
            "persistent-peers-backoff-steps = 0", "persistent-peers-max-dial-period = 0s", "max-num-inbound-peers = 0",
            "max-num-outbound-peers = 0", "flush-throttle-timeout = 1ms", "ping-interval = 2ms", "pong-timeout = 1ms",
            "max-packet-msg-payload-size = 1", "max-write-batch = 1044", "recv-window = 1", "send-rate = 0", "recv-rate = 0",
            "status-decay-interval = 1ms", "dial-timeout = 1ms", "handshake-timeout = 1ms", "filter-timeout = 1ms",
            "send-queue-send-timeout = 0s", "max-buffered-bytes = 0", "buffered-bytes-timeout = 1ms",
            "gc-after-peer-burst.min-peers = 0", "gc-after-peer-burst.min-allocated = 0", "gc-after-peer-burst.quiet-period = 1ms",
            "gc-after-peer-burst.min-interval = 1ms", "gc-when-idle.min-allocated = 0", "gc-when-idle.check-interval = 1ms",
        ];
        string[] high =
        [
            $"persistent-peers-backoff-steps = {P2PSettings.MaxBackoffSteps}", "persistent-peers-redial-jitter = 1h",
            "persistent-peers-max-dial-period = 3650d", "flush-throttle-timeout = 1h", "ping-interval = 2h", "pong-timeout = 1h",
            $"max-packet-msg-payload-size = {P2PSettings.MaxPayloadSizeLimit}", $"max-write-batch = {P2PSettings.MaxWriteBatchLimit}",
            "send-rate = 1000000000000", "recv-rate = 1000000000000", "max-incoming-connection-attempts = 1000000",
            "dial-timeout = 1h", "handshake-timeout = 1h", "filter-timeout = 1h", "send-queue-send-timeout = 1h",
            "max-buffered-bytes = 1000000000000000", "buffered-bytes-timeout = 1h",
            "gc-after-peer-burst.min-peers = 2147483647", "gc-after-peer-burst.min-allocated = 1000000000000000",
            "gc-after-peer-burst.quiet-period = 1h", "gc-after-peer-burst.min-interval = 3650d",
            "gc-when-idle.min-allocated = 1000000000000000", "gc-when-idle.check-interval = 1h",
        ];
        var settings = TendermintActors.Switching.Switch.Settings.From(With(string.Join('\n', edge == "low" ? low : high)));

        settings.Validate(); // what Switch.Props checks, the connection's settings included
        _ = new TendermintActors.Protocol.Switch.RedialSchedule(() => 0.5, settings.PersistentPeersMaxDialPeriod, settings.PersistentPeersInitialRedials,
            settings.PersistentPeersRedialInterval, settings.PersistentPeersBackoffSteps, maxJitter: settings.PersistentPeersRedialJitter);
        _ = new TendermintActors.Protocol.Switch.ConnectionAttemptLimiter(settings.MaxIncomingConnectionAttempts, settings.ConnectionAttemptWindow);
        _ = new TendermintActors.Protocol.Switch.HandshakeSlots(settings.MaxConcurrentHandshakes);
    }

    [Fact]
    public void Reference_config_is_the_embedded_reference_conf()
    {
        var reference = P2PReferenceConfig.Load();
        Assert.Same(reference, P2PReferenceConfig.Load());
        Assert.Equal("tcp://0.0.0.0:26656", reference.GetString("tendermint.p2p.laddr"));
    }

    private static readonly Regex KeyLine = new(@"^\s*([a-z0-9-]+)\s*=", RegexOptions.Compiled);
    private static readonly Regex BlockLine = new(@"^\s*([a-z0-9.-]+)\s*\{\s*$", RegexOptions.Compiled);

    // A small walker over the reference file's layout (one key or block per line), enough to list full key paths.
    private static IEnumerable<(string Key, int Line)> KeyLines(string text)
    {
        var path = new Stack<string>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.TrimStart().StartsWith('#'))
                continue;
            if (BlockLine.Match(line) is { Success: true } block)
                path.Push(block.Groups[1].Value);
            else if (line.Trim() == "}")
                path.Pop();
            else if (KeyLine.Match(line) is { Success: true } key)
                yield return (string.Join('.', path.Reverse().Append(key.Groups[1].Value)), i);
        }
    }
}
