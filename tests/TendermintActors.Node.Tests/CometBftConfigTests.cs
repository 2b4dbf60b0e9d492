using Akka.Configuration;
using TendermintActors.Configuration;
using TendermintActors.Node.CometBft;
using Tomlyn.Model;

namespace TendermintActors.Node.Tests;

public sealed class CometBftConfigTests
{
    private static readonly string FixturePath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "cometbft-v0.38-config.toml");

    private static TomlTable Fixture() => CometBftConfig.Parse(File.ReadAllText(FixturePath));

    private static Config Layered(CometBftConfig.Result result) =>
        ConfigurationFactory.ParseString(CometBftConfig.ToHocon(result, "a test")).WithFallback(P2PReferenceConfig.Load());

    // Every [p2p] key of the v0.38 template, the two node settings and the RPC pair: all have an equivalent.
    private static readonly string[] V038Keys =
    [
        "moniker", "node_key_file", "rpc.laddr", "rpc.unsafe",
        "p2p.laddr", "p2p.external_address", "p2p.seeds", "p2p.persistent_peers", "p2p.upnp", "p2p.addr_book_file",
        "p2p.addr_book_strict", "p2p.max_num_inbound_peers", "p2p.max_num_outbound_peers", "p2p.unconditional_peer_ids",
        "p2p.persistent_peers_max_dial_period", "p2p.flush_throttle_timeout", "p2p.max_packet_msg_payload_size",
        "p2p.send_rate", "p2p.recv_rate", "p2p.pex", "p2p.seed_mode", "p2p.private_peer_ids", "p2p.allow_duplicate_ip",
        "p2p.handshake_timeout", "p2p.dial_timeout",
    ];

    [Fact]
    public void A_v038_config_maps_every_p2p_key_and_leaves_none_behind()
    {
        var result = CometBftConfig.Map(Fixture());

        Assert.Empty(result.Errors);
        Assert.Empty(result.Unmapped);
        Assert.Equal(V038Keys.Order(), result.Settings.Select(s => s.Source).Order());
        Assert.Equal("tendermint.p2p.max-num-inbound-peers", result.Settings.Single(s => s.Source == "p2p.max_num_inbound_peers").Key);
        Assert.Equal("tendermint.rpc.laddr", result.Settings.Single(s => s.Source == "rpc.laddr").Key);
    }

    [Fact]
    public void A_v038_config_becomes_hocon_that_the_node_starts_with_carrying_the_tomls_values()
    {
        var toml = Fixture();
        var p2p = (TomlTable)toml["p2p"];
        var result = CometBftConfig.Map(toml);

        var config = Layered(result);
        var settings = P2PSettings.Create(config);

        // Each carried-over value, read back through HOCON, equals the TOML's, by the TOML value's own type.
        foreach (var setting in result.Settings)
        {
            object value = setting.Source switch
            {
                "moniker" or "node_key_file" => toml[setting.Source],
                _ when setting.Source.StartsWith("rpc.", StringComparison.Ordinal) => ((TomlTable)toml["rpc"])[setting.Source[4..]],
                _ => p2p[setting.Source[4..]],
            };
            switch (value)
            {
                case bool b: Assert.Equal(b, config.GetBoolean(setting.Key)); break;
                case long n: Assert.Equal(n, config.GetLong(setting.Key)); break;
                case string s when setting.Source.EndsWith("_timeout", StringComparison.Ordinal) || setting.Source.EndsWith("_period", StringComparison.Ordinal):
                    Assert.True(GoDuration.TryParse(s, out var ns), s);
                    Assert.Equal(TimeSpan.FromTicks(ns / 100), config.GetTimeSpan(setting.Key));
                    break;
                case string s: Assert.Equal(s, config.GetString(setting.Key)); break;
                default: Assert.Fail($"{setting.Source}: unexpected TOML value {value}"); break;
            }
        }

        // And the node's settings hold them.
        Assert.Equal("fixture-node", settings.Moniker);
        Assert.Equal("config/node_key.json", settings.NodeKeyFile);
        Assert.Equal(new HostAndPort("0.0.0.0", 26656), settings.ListenAddress);
        Assert.Null(settings.ExternalAddress);
        Assert.Equal("seed.example.org", Assert.Single(settings.Seeds).Host);
        Assert.Equal(["10.0.0.2", "10.0.0.3"], settings.PersistentPeers.Select(p => p.Host));
        Assert.Equal(40, settings.MaxNumInboundPeers);
        Assert.Equal(10, settings.MaxNumOutboundPeers);
        Assert.Equal(TimeSpan.Zero, settings.PersistentPeersMaxDialPeriod);
        Assert.Equal(TimeSpan.FromMilliseconds(100), settings.FlushThrottleTimeout);
        Assert.Equal(1024, settings.MaxPacketMsgPayloadSize);
        Assert.Equal(5120000, settings.SendRate);
        Assert.Equal(5120000, settings.RecvRate);
        Assert.True(settings.Pex);
        Assert.True(settings.AddrBookStrict);
        Assert.Equal(TimeSpan.FromSeconds(20), settings.HandshakeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), settings.DialTimeout);
        Assert.Equal("tcp://127.0.0.1:26657", config.GetString("tendermint.rpc.laddr"));
        Assert.False(config.GetBoolean("tendermint.rpc.unsafe"));
    }

    [Fact]
    public void Values_that_differ_from_ours_override_the_reference()
    {
        var result = CometBftConfig.Map(CometBftConfig.Parse("""
            [p2p]
            max_num_inbound_peers = 7
            dial_timeout = "1m30s"
            addr_book_strict = false
            external_address = "203.0.113.7:26656"
            """));

        var settings = P2PSettings.Create(Layered(result));

        Assert.Equal(7, settings.MaxNumInboundPeers);
        Assert.Equal(TimeSpan.FromSeconds(90), settings.DialTimeout);
        Assert.False(settings.AddrBookStrict);
        Assert.Equal(new HostAndPort("203.0.113.7", 26656), settings.ExternalAddress);
    }

    [Fact]
    public void Tendermint_v035_dashed_keys_map_alike_and_the_odd_ones_are_reported_with_a_reason()
    {
        var result = CometBftConfig.Map(CometBftConfig.Parse("""
            [p2p]
            queue-type = "wdrr"
            use-legacy = false
            max-connections = 32
            max-incoming-connection-attempts = 50
            bootstrap-peers = ""
            persistent-peers = ""
            upnp = true
            test_dial_fail = false
            test_fuzz = false
            frobnicate = 3
            [p2p.test_fuzz_config]
            Mode = 0
            """));

        Assert.Empty(result.Errors);
        Assert.Equal("32", result.ValueOf("tendermint.p2p.max-connections"));
        Assert.Equal("50", result.ValueOf("tendermint.p2p.max-incoming-connection-attempts"));
        Assert.Equal("\"wdrr\"", result.ValueOf("tendermint.p2p.queue-type"));
        Assert.Equal("\"\"", result.ValueOf("tendermint.p2p.persistent-peers"));
        Assert.Null(result.ValueOf("tendermint.p2p.upnp"));
        var reasons = result.Unmapped.ToDictionary(u => u.Key, u => u.Reason);
        Assert.Equal(["p2p.bootstrap-peers", "p2p.frobnicate", "p2p.test_dial_fail", "p2p.test_fuzz", "p2p.test_fuzz_config", "p2p.upnp", "p2p.use-legacy"],
            reasons.Keys.Order());
        Assert.Contains("not supported", reasons["p2p.upnp"]);
        Assert.Contains("test hook", reasons["p2p.test_fuzz_config"]);
        Assert.Contains("unknown", reasons["p2p.frobnicate"]);
        Assert.Contains("seeds or persistent_peers", reasons["p2p.bootstrap-peers"]);
    }

    [Fact]
    public void Values_given_as_strings_are_read_as_viper_reads_them()
    {
        var result = CometBftConfig.Map(CometBftConfig.Parse("""
            [p2p]
            pex = "false"
            max_num_outbound_peers = "12"
            """));

        Assert.Empty(result.Errors);
        Assert.Equal("off", result.ValueOf("tendermint.p2p.pex"));
        Assert.Equal("12", result.ValueOf("tendermint.p2p.max-num-outbound-peers"));
    }

    [Fact]
    public void Values_cometbft_would_refuse_are_errors_naming_the_toml_key()
    {
        var result = CometBftConfig.Map(CometBftConfig.Parse("""
            moniker = 5
            [p2p]
            dial_timeout = "soon"
            pex = "maybe"
            send_rate = 1.5
            handshake_timeout = "-1s"
            """));

        Assert.Empty(result.Settings);
        Assert.Equal(5, result.Errors.Count);
        Assert.Contains(result.Errors, e => e.StartsWith("moniker = 5: expected a string", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("p2p.dial_timeout = \"soon\": expected a Go duration", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("p2p.pex = \"maybe\": expected true or false", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("p2p.send_rate = 1.5: expected a whole number", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("p2p.handshake_timeout = \"-1s\": a duration must not be negative", StringComparison.Ordinal));
    }

    [Fact]
    public void Strings_keep_quotes_backslashes_and_non_ascii_through_hocon()
    {
        const string moniker = "a \"quoted\" \\ name é";
        var table = new TomlTable { ["moniker"] = moniker };

        var config = Layered(CometBftConfig.Map(table));

        Assert.Equal(moniker, config.GetString("tendermint.p2p.moniker"));
    }

    [Fact]
    public void Text_that_is_not_toml_is_a_format_error()
    {
        Assert.Throws<FormatException>(() => CometBftConfig.Parse("[p2p\nladdr = "));
    }

    [Theory]
    [InlineData("100ms", "100ms")]
    [InlineData("20s", "20s")]
    [InlineData("0s", "0s")]
    [InlineData("0", "0s")]
    [InlineData("1h0m0s", "1h")]
    [InlineData("1m30s", "90s")]
    [InlineData("1.5s", "1500ms")]
    [InlineData("168h0m0s", "168h")]
    [InlineData("300us", "300000ns")]
    [InlineData("2µs", "2000ns")]
    [InlineData("1500ns", "1500ns")]
    public void Go_durations_become_one_hocon_duration_of_the_same_length(string go, string hocon)
    {
        Assert.True(GoDuration.TryParse(go, out var ns));
        Assert.Equal(hocon, GoDuration.ToHocon(ns));
        // Akka's HOCON reads it back as the same length (to its 100 ns resolution).
        Assert.Equal(TimeSpan.FromTicks(ns / 100), ConfigurationFactory.ParseString($"d = {hocon}").GetTimeSpan("d"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5x")]
    [InlineData("s")]
    [InlineData("1h 2m")]
    public void Strings_go_would_refuse_are_not_durations(string go)
    {
        Assert.False(GoDuration.TryParse(go, out _));
    }
}
