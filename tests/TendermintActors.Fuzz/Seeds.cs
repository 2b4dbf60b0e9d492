using System.Net;
using System.Text.Json;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Pex;
using TendermintActors.Protocol.SecretConnection;
using TendermintActors.Protocol.Codec;

namespace TendermintActors.Fuzz;

/// <summary>
/// The seed corpus: the Go implementation's bytes from the shared test vectors (a copy is in
/// tests/TendermintActors.Protocol.Tests/Vectors) and encodings our own code produces, one folder per target. Inputs
/// of stream targets start with the chunking byte of <see cref="Targets.Chunks"/>.
/// </summary>
public static class Seeds
{
    public static void Write(string vectorsJson, string hoconDir, string corpus)
    {
        var vectors = JsonDocument.Parse(File.ReadAllText(vectorsJson)).RootElement;
        void Put(string target, string name, byte[] bytes)
        {
            var dir = Path.Combine(corpus, target);
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
        }
        byte[] Hex(JsonElement e, string property) => Convert.FromHexString(e.GetProperty(property).GetString()!);
        byte[] Chunked(byte chunk, params byte[][] parts) => [chunk, .. parts.SelectMany(p => p)];

        foreach (var proto in vectors.GetProperty("protobuf").EnumerateArray())
        {
            var name = proto.GetProperty("name").GetString()!;
            var delimited = Hex(proto, "delimited_hex");
            Put("length-delimited", name, delimited);
            if (name.StartsWith("packet_", StringComparison.Ordinal))
            {
                Put("packet-decoder", name, Chunked(0, delimited));
                Put("reassembler", name, Chunked(0, delimited));
            }
            if (name.StartsWith("pex_", StringComparison.Ordinal))
                Put("pex-message", name, Hex(proto, "raw_hex"));
            if (name.StartsWith("default_node_info", StringComparison.Ordinal))
                Put("node-info", name, Chunked(0, delimited));
        }
        foreach (var hs in vectors.GetProperty("handshakes").EnumerateArray())
        {
            var name = hs.GetProperty("name").GetString()!;
            foreach (var sideName in new[] { "a", "b" })
            {
                var side = hs.GetProperty(sideName);
                var id = $"{name}-{sideName}";
                Put("ephemeral-key", id, Chunked(0, Hex(side, "wire_eph_msg_hex")));
                Put("length-delimited", $"eph-{id}", Hex(side, "wire_eph_msg_hex"));
                Put("auth-sig", id, Chunked(0, Hex(side, "auth_sig_msg_delimited_hex")));
                var frame = side.GetProperty("wire_auth_sig_frame");
                Put("frame-opener", $"plain-{id}", [0, 0, .. Hex(frame, "frame_plaintext_hex")]);
                Put("frame-opener", $"sealed-{id}", [0, 1, .. Hex(frame, "sealed_hex")]);
                Put("node-key-json", id, System.Text.Encoding.UTF8.GetBytes(
                    $$$"""{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"{{{Convert.ToBase64String(Hex(side, "ed25519_priv_key_hex"))}}}"}}"""));
                var writes = side.GetProperty("data_writes").EnumerateArray().ToArray();
                Put("packet-decoder", $"writes-{id}", Chunked(0, Hex(writes[0], "plaintext_hex")));
                var plainFrames = writes.SelectMany(w => w.GetProperty("frames").EnumerateArray()).SelectMany(f => Hex(f, "frame_plaintext_hex")).ToArray();
                Put("frame-opener", $"writes-{id}", [0, 0, .. plainFrames]);
            }
        }

        // Our own encodings.
        Put("ephemeral-key", "ours", Chunked(0, FixedKeys.Remote.EphemeralKeyMessage));
        Put("ephemeral-key", "ours-bytewise", Chunked(1, FixedKeys.Remote.EphemeralKeyMessage));
        Put("ephemeral-key", "ours-then-auth-sig", Chunked(0, FixedKeys.Remote.EphemeralKeyMessage, FixedKeys.Remote.SealedAuthSig));
        Put("auth-sig", "valid", Chunked(0, FixedKeys.Remote.AuthSigPlaintext));
        Put("auth-sig", "valid-chunked", Chunked(7, FixedKeys.Remote.AuthSigPlaintext));
        Put("auth-sig", "valid-then-data", Chunked(0, FixedKeys.Remote.AuthSigPlaintext, PacketCodec.EncodedPing.ToArray()));

        var nodeInfo = LengthDelimited.Encode(FixedKeys.RemoteInfo.ToProto());
        Put("node-info", "valid", Chunked(0, nodeInfo));
        Put("node-info", "valid-chunked", Chunked(5, nodeInfo, PacketCodec.EncodedPing.ToArray()));
        Put("node-info", "self", Chunked(0, LengthDelimited.Encode(FixedKeys.LocalInfo.ToProto())));
        Put("length-delimited", "node-info", nodeInfo);

        byte[] Msg(byte channel, bool eof, byte[] data)
        {
            var buffer = new byte[PacketCodec.SizeOfPacketMsg(channel, eof, data.Length)];
            PacketCodec.WritePacketMsg(buffer, channel, eof, data);
            return buffer;
        }
        var big = Enumerable.Range(0, 1024).Select(i => (byte)i).ToArray();
        var stream = new[] { Msg(0x30, false, big), Msg(0x01, true, [1, 2, 3]), PacketCodec.EncodedPing.ToArray(), Msg(0x30, true, big[..100]), PacketCodec.EncodedPong.ToArray() };
        Put("packet-decoder", "ours", Chunked(0, stream));
        Put("packet-decoder", "ours-chunked", Chunked(13, stream));
        Put("reassembler", "ours", Chunked(0, stream));
        Put("reassembler", "ours-chunked", Chunked(200, stream));
        Put("reassembler", "over-capacity", Chunked(0, Msg(0x01, false, big), Msg(0x01, false, big), Msg(0x01, false, big), Msg(0x01, false, big), Msg(0x01, true, big)));
        Put("reassembler", "unknown-channel", Chunked(0, Msg(0x99, true, [1])));
        Put("length-delimited", "packet-msg", Msg(0x30, true, big[..10]));

        var ids = Enumerable.Range(1, 4).Select(i => NodeKey.FromSeed(Enumerable.Repeat((byte)i, 32).ToArray()).Id).ToArray();
        var addrs = new[]
        {
            new NetAddress(ids[0], IPAddress.Parse("1.2.3.4"), 26656),
            new NetAddress(ids[1], IPAddress.Parse("2001:db8::1"), 26656),
            new NetAddress(ids[2], IPAddress.Parse("8.8.4.4"), 1),
        };
        Put("pex-message", "request", PexMessage.EncodeRequest());
        Put("pex-message", "addrs", PexMessage.EncodeAddrs(addrs));
        Put("pex-message", "addrs-empty", PexMessage.EncodeAddrs([]));

        var book = new AddressBook("0123456789abcdef01234567", routabilityStrict: false, new Random(1));
        var now = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var src = new NetAddress(ids[3], IPAddress.Parse("9.9.9.9"), 26656);
        foreach (var a in addrs) book.AddAddress(a, src, now);
        book.MarkGood(ids[0], now);
        book.MarkAttempt(addrs[1], now);
        Put("addrbook-json", "ours", System.Text.Encoding.UTF8.GetBytes(AddrBookJson.Serialize(book)));
        Put("addrbook-json", "empty", System.Text.Encoding.UTF8.GetBytes("""{"key":"abc","addrs":[]}"""));

        Put("node-key-json", "ours", System.Text.Encoding.UTF8.GetBytes(NodeKeyFile.Format(FixedKeys.Local)));

        foreach (var conf in Directory.GetFiles(hoconDir, "*.conf", SearchOption.AllDirectories))
            Put("hocon-settings", Path.GetFileName(conf), File.ReadAllBytes(conf));
        Put("hocon-settings", "lists", """
            tendermint.p2p {
              seeds = ["0123456789abcdef0123456789abcdef01234567@1.2.3.4:26656"]
              persistent-peers = "0123456789abcdef0123456789abcdef01234567@example.com:26656"
              max-num-inbound-peers = 3
              flush-throttle-timeout = 10ms
              laddr = "tcp://0.0.0.0:26656"
            }
            """u8.ToArray());
        Put("hocon-settings", "substitution", "a = 5\ntendermint.p2p.max-num-outbound-peers = ${a}\n"u8.ToArray());
    }
}
