using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Tests.Identity;

/// <summary>Inputs found by the node-key-json fuzz target (docs/fuzzing.md).</summary>
public sealed class NodeKeyFileFindingsTests
{
    [Theory]
    [InlineData("""{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"AAAA","value":"BBBB"}}""")]
    [InlineData("""{"priv_key":{"type":"tendermint/PrivKeyEd25519"},"priv_key":{}}""")]
    public void A_key_given_twice_is_a_format_error(string json)
    {
        var e = Assert.Throws<FormatException>(() => NodeKeyFile.Parse(json, "node_key.json"));
        Assert.StartsWith("node_key.json: not valid JSON", e.Message);
    }
}
