using System.Net;
using Google.Protobuf;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using Wire = TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.Tests.Pex;

public sealed class PexMessageTests
{
    private static byte[] GoBytes(string vector)
    {
        foreach (var v in VectorFiles.Json("tendermint-v0.34.24-vectors.json").GetProperty("protobuf").EnumerateArray())
            if (v.Str("name") == vector)
                return v.Hex("raw_hex");
        throw new ArgumentException(vector);
    }

    [Fact]
    public void Our_request_is_byte_for_byte_Go_s()
    {
        Assert.Equal(GoBytes("pex_request_message"), PexMessage.EncodeRequest());
        Assert.IsType<PexMessage.Request>(PexMessage.Decode(GoBytes("pex_request_message")));
    }

    [Fact]
    public void Go_s_addresses_decode_and_our_encoding_of_them_is_byte_for_byte_Go_s()
    {
        var decoded = Assert.IsType<PexMessage.Addrs>(PexMessage.Decode(GoBytes("pex_addrs_message_two_addrs")));

        Assert.Equal(
        [
            NetAddress.Parse("eac7e7818b17eb3d423dc005fe9faa0d206f7cff@127.0.0.1:26656"),
            NetAddress.Parse("90a84ef16429814fb1071d5b7cec755e695bf33a@10.0.0.2:36656"),
        ], decoded.Addresses);
        Assert.Equal(GoBytes("pex_addrs_message_two_addrs"), PexMessage.EncodeAddrs(decoded.Addresses));
    }

    [Fact]
    public void An_empty_answer_is_a_valid_message()
    {
        var decoded = Assert.IsType<PexMessage.Addrs>(PexMessage.Decode(PexMessage.EncodeAddrs([])));
        Assert.Empty(decoded.Addresses);
    }

    [Theory]
    [InlineData("ff")]            // a truncated tag
    [InlineData("0a05")]          // a field that declares more bytes than follow
    [InlineData("")]              // neither request nor addresses
    [InlineData("1a00")]          // an unknown field only: still neither
    public void Bytes_that_are_not_a_PEX_message_are_undecodable(string hex)
    {
        var e = Assert.Throws<PexViolationException>(() => PexMessage.Decode(Convert.FromHexString(hex)));
        Assert.Equal(PexViolation.Undecodable, e.Reason);
        Assert.Equal("pex/undecodable", e.Code);
        Assert.False(e.Bans);
    }

    [Theory]
    [InlineData("seed.example.com", 26656u, "is not an IP address")]
    [InlineData("", 26656u, "is not an IP address")]
    [InlineData("10.0.0.1", 70000u, "port out of range")]
    public void One_address_that_is_not_an_IP_and_port_rejects_the_whole_message(string ip, uint port, string why)
    {
        var message = new Wire.Message { PexAddrs = new Wire.PexAddrs() };
        message.PexAddrs.Addrs.Add(new Wire.NetAddress { Id = new string('a', 40), Ip = "10.1.1.1", Port = 1 });
        message.PexAddrs.Addrs.Add(new Wire.NetAddress { Id = new string('b', 40), Ip = ip, Port = port });

        var e = Assert.Throws<PexViolationException>(() => PexMessage.Decode(message.ToByteArray()));

        Assert.Equal(PexViolation.InvalidAddress, e.Reason);
        Assert.Equal("pex/invalid-address", e.Code);
        Assert.Contains(why, e.Message);
        Assert.True(e.Bans);
    }

    [Fact]
    public void An_entry_with_a_bad_ID_is_skipped_and_the_rest_kept_as_Go_leaves_it_to_the_book()
    {
        var message = new Wire.Message { PexAddrs = new Wire.PexAddrs() };
        message.PexAddrs.Addrs.Add(new Wire.NetAddress { Id = "not-an-id", Ip = "10.1.1.1", Port = 1 });
        message.PexAddrs.Addrs.Add(new Wire.NetAddress { Id = new string('c', 40), Ip = "::1", Port = 2 });

        var decoded = Assert.IsType<PexMessage.Addrs>(PexMessage.Decode(message.ToByteArray()));

        var only = Assert.Single(decoded.Addresses);
        Assert.Equal(IPAddress.IPv6Loopback, only.Ip);
    }

    [Fact]
    public void We_never_send_a_host_name()
    {
        var named = NetAddress.Parse(new string('d', 40) + "@seed.example.com:26656");
        Assert.Throws<ArgumentException>(() => PexMessage.EncodeAddrs([named]));
    }
}
