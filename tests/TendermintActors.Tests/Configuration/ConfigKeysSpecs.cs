using Akka.Configuration;
using TendermintActors.Configuration;

namespace TendermintActors.Tests.Configuration;

public class ConfigKeysSpecs
{
    private static P2PConfigurationException Rejects(string hocon) =>
        Assert.Throws<P2PConfigurationException>(() =>
            P2PSettings.Create(ConfigurationFactory.ParseString($"tendermint.p2p {{\n{hocon}\n}}").WithFallback(P2PReferenceConfig.Load())));

    [Theory]
    [InlineData("max-num-inbound-peer = 5", "max-num-inbound-peer", "max-num-inbound-peers")]
    [InlineData("max-num-inbuond-peers = 5", "max-num-inbuond-peers", "max-num-inbound-peers")]
    [InlineData("seed = \"\"", "seed", "seeds")]
    [InlineData("Moniker = x", "Moniker", "moniker")]
    [InlineData("metrics.per-peer-label = off", "metrics.per-peer-label", "metrics.per-peer-labels")]
    [InlineData("per-peer-labels = off", "per-peer-labels", "metrics.per-peer-labels")]
    [InlineData("protocol-versions { p2p = 8 }", "protocol-versions", "protocol-version")]
    [InlineData("protocol-version.blocks = 11", "protocol-version.blocks", "protocol-version.block")]
    public void Create_refuses_a_misspelt_key_naming_the_key_meant(string hocon, string key, string meant)
    {
        var e = Rejects(hocon);
        Assert.Equal($"tendermint.p2p.{key}", e.Key);
        Assert.Contains($"unknown key; did you mean `{meant}`?", e.Message);
    }

    [Theory]
    [InlineData("max_num_inbound_peers = 5", "max-num-inbound-peers")]
    [InlineData("addr_book_strict = off", "addr-book-strict")]
    [InlineData("persistent_peers = \"\"", "persistent-peers")]
    [InlineData("protocol_version { p2p = 8 }", "protocol-version")]
    [InlineData("metrics { per_peer_labels = off }", "metrics.per-peer-labels")]
    public void Create_refuses_CometBFTs_underscore_spelling_naming_the_dashed_key(string hocon, string dashed)
    {
        var e = Rejects(hocon);
        Assert.Contains($"CometBFT's spelling; write `{dashed}`", e.Message);
    }

    [Fact]
    public void A_key_like_no_other_is_refused_without_a_guess()
    {
        var e = Rejects("colour = blue");
        Assert.Equal("tendermint.p2p.colour", e.Key);
        Assert.Equal("blue", e.Value);
        Assert.Contains("unknown key (every key of tendermint.p2p is listed", e.Message);
        Assert.DoesNotContain("did you mean", e.Message);
    }

    [Fact]
    public void Keys_outside_tendermint_p2p_are_not_the_librarys_business()
    {
        var config = ConfigurationFactory.ParseString("akka.loglevel = DEBUG\nmy-app.anything = 1\ntendermint.rpc.laddr = \"\"")
            .WithFallback(P2PReferenceConfig.Load());
        Assert.Equal(40, P2PSettings.Create(config).MaxNumInboundPeers);
    }

    [Fact]
    public void Unknown_lists_every_unknown_key_nested_ones_included_and_nothing_known()
    {
        var config = ConfigurationFactory.ParseString("tendermint.p2p { pex = off, pexx = 1, metrics { namespace = x, colour = 2 } }")
            .WithFallback(P2PReferenceConfig.Load());
        var unknown = ConfigKeys.Unknown(config, P2PReferenceConfig.Load(), P2PSettings.Section);
        Assert.Equal(["tendermint.p2p.pexx", "tendermint.p2p.metrics.colour"], unknown.Select(u => u.Key).Order().Reverse().ToArray());
        Assert.Equal("pex", unknown.Single(u => u.Key.EndsWith("pexx")).Suggestion);
    }

    [Theory]
    [InlineData("pex", "pex", 0)]
    [InlineData("pex", "pexx", 1)]
    [InlineData("inbound", "inbuond", 1)]
    [InlineData("abc", "xyz", 3)]
    [InlineData("", "abc", 3)]
    public void Distance_counts_insertions_deletions_substitutions_and_swaps(string a, string b, int expected) =>
        Assert.Equal(expected, ConfigKeys.Distance(a, b));

    [Fact]
    public void Cutoff_grows_with_the_key_and_stops_at_three()
    {
        Assert.Equal(1, ConfigKeys.Cutoff(3));
        Assert.Equal(2, ConfigKeys.Cutoff(7));
        Assert.Equal(3, ConfigKeys.Cutoff(30));
    }

    [Theory]
    [InlineData("max-num-inbound-peers = 100000000000", "max-num-inbound-peers", "must be at most 2147483647")]
    [InlineData("max-num-inbound-peers = -100000000000", "max-num-inbound-peers", "must be 0 or more")]
    [InlineData("persistent-peers-backoff-steps = 100000000000", "persistent-peers-backoff-steps", "must be from 0 to 18")]
    [InlineData("send-rate = 100000000000000000000", "send-rate", "must be at most 9223372036854775807")]
    [InlineData("protocol-version.p2p = 100000000000000000000", "protocol-version.p2p", "must be at most 9223372036854775807")]
    [InlineData("max-packet-msg-payload-size = 100000000000000000000", "max-packet-msg-payload-size", "must be from 1 to 1048576 bytes")]
    public void A_whole_number_too_large_for_its_type_is_out_of_range_not_malformed(string hocon, string key, string problem)
    {
        var e = Rejects(hocon);
        Assert.Equal($"tendermint.p2p.{key}", e.Key);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain("whole number", e.Message);
    }

    [Fact]
    public void A_number_that_is_not_whole_is_still_said_to_be_malformed() =>
        Assert.Contains("must be a whole number", Rejects("max-num-inbound-peers = 1.5").Message);
}
