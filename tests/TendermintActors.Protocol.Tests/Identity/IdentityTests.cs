using System.Net;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Tests.Identity;

public class NodeIdTests
{
    [Fact]
    public void Id_is_lowercase_hex_of_the_first_20_bytes_of_sha256_of_the_key()
    {
        var (_, side, _) = VectorFiles.Side("case1", "a");
        Assert.Equal(side.Str("node_id_hex"), NodeId.FromPublicKey(side.Hex("ed25519_pub_key_hex")).Hex);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("abc", "has 3 characters")]
    [InlineData("2397b9cda2ec19d802cd523bdb0089d5b30854eg", "'g'")]
    [InlineData("2397b9cda2ec19d802cd523bdb0089d5b30854ec00", "has 42 characters")]
    public void Invalid_ids_say_what_is_wrong(string text, string expected)
    {
        Assert.False(NodeId.TryParse(text, out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Uppercase_input_is_held_lowercase()
    {
        var id = NodeId.Parse("2397B9CDA2EC19D802CD523BDB0089D5B30854EC");
        Assert.Equal("2397b9cda2ec19d802cd523bdb0089d5b30854ec", id.ToString());
        Assert.Equal(NodeId.Parse("2397b9cda2ec19d802cd523bdb0089d5b30854ec"), id);
    }
}

public class NetAddressTests
{
    private const string Id = "2397b9cda2ec19d802cd523bdb0089d5b30854ec";

    [Theory]
    [InlineData(Id + "@127.0.0.1:26656", "127.0.0.1", 26656, false)]
    [InlineData("tcp://" + Id + "@127.0.0.1:26656", "127.0.0.1", 26656, false)]
    [InlineData(Id + "@[::1]:26656", "::1", 26656, false)]
    [InlineData(Id + "@[2001:db8::1]:1", "2001:db8::1", 1, false)]
    [InlineData(Id + "@seed.example.com:26656", "seed.example.com", 26656, true)]
    [InlineData(" " + Id + "@localhost:65535 ", "localhost", 65535, true)]
    public void Valid_addresses_parse(string text, string host, int port, bool dns)
    {
        var address = NetAddress.Parse(text);
        Assert.Equal(Id, address.Id.Hex);
        Assert.Equal(host, address.Host);
        Assert.Equal(port, address.Port);
        Assert.Equal(dns, address.IsDnsName);
        Assert.Equal(address, NetAddress.Parse(address.ToString()));
    }

    [Fact]
    public void Ipv6_prints_in_brackets_and_mapped_ipv4_is_ipv4()
    {
        Assert.Equal($"{Id}@[::1]:26656", NetAddress.Parse($"{Id}@[::1]:26656").ToString());
        var mapped = new NetAddress(NodeId.Parse(Id), IPAddress.Parse("::ffff:10.0.0.1"), 26656);
        Assert.Equal("10.0.0.1", mapped.Host);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("127.0.0.1:26656", "no node ID")]
    [InlineData("abc@127.0.0.1:26656", "node ID 'abc'")]
    [InlineData(Id + "@127.0.0.1", "no port")]
    [InlineData(Id + "@127.0.0.1:0", "port '0'")]
    [InlineData(Id + "@127.0.0.1:70000", "port '70000'")]
    [InlineData(Id + "@127.0.0.1:http", "port 'http'")]
    [InlineData(Id + "@:26656", "empty host")]
    [InlineData(Id + "@::1:26656", "IPv6 host must be in brackets")]
    [InlineData(Id + "@[::1:26656", "[addr]:port")]
    [InlineData(Id + "@[host]:26656", "not an IPv6 address")]
    [InlineData(Id + "@bad_host!:26656", "neither an IP address nor a valid DNS name")]
    [InlineData("udp://" + Id + "@127.0.0.1:26656", "protocol 'udp'")]
    public void Invalid_addresses_name_the_bad_part(string text, string expected)
    {
        Assert.False(NetAddress.TryParse(text, out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Lists_trim_spaces_and_skip_empty_entries()
    {
        var list = NetAddress.ParseList($" {Id}@1.2.3.4:1 , ,{Id}@[::1]:2,");
        Assert.Equal(2, list.Count);
        Assert.Equal("1.2.3.4", list[0].Host);
        Assert.Equal("::1", list[1].Host);
        Assert.Empty(NetAddress.ParseList(" "));
        var e = Assert.Throws<FormatException>(() => NetAddress.ParseList($"{Id}@1.2.3.4:1,nonsense"));
        Assert.Contains("nonsense", e.Message);
    }

    [Fact]
    public void Wire_form_requires_an_ip_literal()
    {
        var wire = new Wire.NetAddress { Id = Id, Ip = "seed.example.com", Port = 26656 };
        Assert.False(NetAddress.TryFromProto(wire, out _, out var error));
        Assert.Contains("not an IP address", error);
        Assert.True(NetAddress.TryFromProto(new Wire.NetAddress { Id = Id, Ip = "10.0.0.2", Port = 1 }, out var ok, out _));
        Assert.Equal("10.0.0.2", ok.Ip!.ToString());
    }
}

public sealed class NodeKeyFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tmactors-key-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Round_trip_keeps_the_key_and_writes_go_format_with_owner_only_permissions()
    {
        var path = Path.Combine(_dir, "config", "node_key.json");
        using var key = NodeKey.Generate();
        NodeKeyFile.Save(key, path);
        var text = File.ReadAllText(path);
        Assert.Matches("^\\{\"priv_key\":\\{\"type\":\"tendermint/PrivKeyEd25519\",\"value\":\"[A-Za-z0-9+/]{86}==\"\\}\\}$", text);
        using var loaded = NodeKeyFile.Load(path);
        Assert.Equal(key.Id, loaded.Id);
        Assert.Equal(key.ToGoPrivateKey(), loaded.ToGoPrivateKey());
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp")); // no temp file left behind
    }

    [Fact]
    public void Saving_refuses_to_overwrite_an_existing_key()
    {
        var path = Path.Combine(_dir, "node_key.json");
        using var first = NodeKey.Generate();
        using var second = NodeKey.Generate();
        NodeKeyFile.Save(first, path);
        var before = File.ReadAllBytes(path);
        Assert.Throws<IOException>(() => NodeKeyFile.Save(second, path));
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Theory]
    [MemberData(nameof(VectorFiles.HandshakeSides), MemberType = typeof(VectorFiles))]
    public void Go_written_file_from_a_vector_key_loads_with_its_id(string caseName, string sideName)
    {
        var (_, side, _) = VectorFiles.Side(caseName, sideName);
        var path = Path.Combine(_dir, $"{caseName}-{sideName}.json");
        // Go's amino-JSON writer, indented as `tendermint init` leaves it.
        File.WriteAllText(path, "{\n  \"priv_key\": {\n    \"type\": \"tendermint/PrivKeyEd25519\",\n    \"value\": \""
            + Convert.ToBase64String(side.Hex("ed25519_priv_key_hex")) + "\"\n  }\n}");
        using var key = NodeKeyFile.Load(path);
        Assert.Equal(side.Str("node_id_hex"), key.Id.Hex);
        // And what we write back is byte-for-byte Go's compact form of the same key.
        Assert.Equal("{\"priv_key\":{\"type\":\"tendermint/PrivKeyEd25519\",\"value\":\"" + Convert.ToBase64String(side.Hex("ed25519_priv_key_hex")) + "\"}}",
            NodeKeyFile.Format(key));
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "priv_key")]
    [InlineData("{\"priv_key\":{\"type\":\"tendermint/PrivKeySecp256k1\",\"value\":\"AA==\"}}", "only 'tendermint/PrivKeyEd25519'")]
    [InlineData("{\"priv_key\":{\"type\":5,\"value\":\"AA==\"}}", "priv_key.type")]
    [InlineData("{\"priv_key\":{\"type\":\"tendermint/PrivKeyEd25519\",\"value\":\"!!\"}}", "not base64")]
    [InlineData("{\"priv_key\":{\"type\":\"tendermint/PrivKeyEd25519\",\"value\":\"AAAA\"}}", "64 bytes")]
    public void Corrupt_files_name_the_problem(string json, string expected)
    {
        var e = Assert.Throws<FormatException>(() => NodeKeyFile.Parse(json, "x/node_key.json"));
        Assert.Contains("x/node_key.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_key_whose_public_half_does_not_match_its_seed_is_refused()
    {
        var bytes = VectorFiles.Side("case1", "a").Side.Hex("ed25519_priv_key_hex");
        bytes[40] ^= 1;
        var e = Assert.Throws<FormatException>(() => NodeKeyFile.Parse(
            "{\"priv_key\":{\"type\":\"tendermint/PrivKeyEd25519\",\"value\":\"" + Convert.ToBase64String(bytes) + "\"}}"));
        Assert.Contains("not the public key of its seed", e.Message);
    }

    [Fact]
    public void Missing_file_says_how_to_create_one()
    {
        var e = Assert.Throws<FileNotFoundException>(() => NodeKeyFile.Load(Path.Combine(_dir, "nope", "node_key.json")));
        Assert.Contains("tmactors init", e.Message);
    }
}
