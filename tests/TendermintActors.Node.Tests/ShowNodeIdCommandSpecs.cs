using System.Text.Json;

namespace TendermintActors.Node.Tests;

public sealed class ShowNodeIdCommandSpecs : IDisposable
{
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    /// <summary>Every long-term key in the Go vectors (each case, both sides): Go's 64-byte private key and its node ID.</summary>
    public static TheoryData<string, string, string> GoKeys()
    {
        using var vectors = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "tendermint-v0.34.24-vectors.json")));
        var data = new TheoryData<string, string, string>();
        foreach (var handshake in vectors.RootElement.GetProperty("handshakes").EnumerateArray())
            foreach (var side in new[] { "a", "b" })
            {
                var peer = handshake.GetProperty(side);
                data.Add($"{handshake.GetProperty("name").GetString()}/{side}",
                    peer.GetProperty("ed25519_priv_key_hex").GetString()!, peer.GetProperty("node_id_hex").GetString()!);
            }
        return data;
    }

    private static string GoNodeKeyJson(string privKeyHex) =>
        "{\"priv_key\":{\"type\":\"tendermint/PrivKeyEd25519\",\"value\":\"" +
        Convert.ToBase64String(Convert.FromHexString(privKeyHex)) + "\"}}";

    [Theory]
    [MemberData(nameof(GoKeys))]
    public void Show_node_id_must_print_the_id_go_computed_for_a_go_written_key(string vector, string privKeyHex, string nodeIdHex)
    {
        _home.WriteNodeKeyFile(GoNodeKeyJson(privKeyHex));

        var run = CliRun.Of("show-node-id", "--home", _home.Root);

        Assert.True(run.ExitCode == 0, $"{vector}: {run.Stderr}");
        Assert.Equal(nodeIdHex + Environment.NewLine, run.Stdout);
    }

    [Fact]
    public void Show_node_id_must_read_an_indented_file_with_a_trailing_newline()
    {
        var (_, privKeyHex, nodeIdHex) = First(GoKeys());
        var indented = JsonSerializer.Serialize(JsonDocument.Parse(GoNodeKeyJson(privKeyHex)).RootElement,
            new JsonSerializerOptions { WriteIndented = true });
        _home.WriteNodeKeyFile(indented + "\n");

        var run = CliRun.Of("show-node-id", "--home", _home.Root);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(nodeIdHex, run.LastLine);
    }

    [Fact]
    public void Show_node_id_must_print_the_id_init_printed()
    {
        var init = CliRun.Of("init", "--home", _home.Root);

        var show = CliRun.Of("show-node-id", "--home", _home.Root);

        Assert.Equal(0, show.ExitCode);
        Assert.Equal(init.LastLine + Environment.NewLine, show.Stdout);
    }

    [Fact]
    public void Show_node_id_must_name_a_missing_file()
    {
        var run = CliRun.Of("show-node-id", "--home", _home.Root);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(_home.NodeKeyFile, run.Stderr);
        Assert.Contains("does not exist", run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    public static TheoryData<string, string> CorruptFiles()
    {
        var (_, privKeyHex, _) = First(GoKeys());
        var goodValue = Convert.ToBase64String(Convert.FromHexString(privKeyHex));
        var flipped = Convert.FromHexString(privKeyHex);
        flipped[^1] ^= 1;
        string File(string type, string value) => $"{{\"priv_key\":{{\"type\":\"{type}\",\"value\":\"{value}\"}}}}";
        return new TheoryData<string, string>
        {
            { "not JSON", "{\"priv_key\":" },
            { "empty", "" },
            { "a JSON array", "[]" },
            { "no priv_key", "{}" },
            { "type not a string", $"{{\"priv_key\":{{\"type\":5,\"value\":\"{goodValue}\"}}}}" },
            { "secp256k1 key", File("tendermint/PrivKeySecp256k1", Convert.ToBase64String(new byte[32])) },
            { "value not base64", File("tendermint/PrivKeyEd25519", "not*base64") },
            { "32-byte value", File("tendermint/PrivKeyEd25519", Convert.ToBase64String(Convert.FromHexString(privKeyHex)[..32])) },
            { "public half not the seed's", File("tendermint/PrivKeyEd25519", Convert.ToBase64String(flipped)) },
        };
    }

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public void Show_node_id_must_name_a_corrupt_file(string what, string contents)
    {
        _home.WriteNodeKeyFile(contents);

        var run = CliRun.Of("show-node-id", "--home", _home.Root);

        Assert.True(run.ExitCode == 1, $"{what}: exit code {run.ExitCode}");
        Assert.Contains(_home.NodeKeyFile, run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    private static (string, string, string) First(TheoryData<string, string, string> data)
    {
        var row = data.First();
        return ((string)row[0], (string)row[1], (string)row[2]);
    }
}
