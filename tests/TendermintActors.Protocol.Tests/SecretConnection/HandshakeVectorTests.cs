using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.SecretConnection;
using TendermintActors.Protocol.Wire;
using NetAddress = TendermintActors.Protocol.Identity.NetAddress;

namespace TendermintActors.Protocol.Tests.SecretConnection;

/// <summary>Every case and side of tendermint-v0.34.24-vectors.json, computed by Go's real MakeSecretConnection.</summary>
public class HandshakeVectorTests
{
    public static IEnumerable<object[]> Sides() => VectorFiles.HandshakeSides();

    public static IEnumerable<object[]> SidesAndCiphers() =>
        from side in VectorFiles.HandshakeSides()
        from implementation in Enum.GetValues<FrameCipherImplementation>()
        select side.Append(implementation).ToArray();

    private static byte[] H(string hex) => Convert.FromHexString(hex);

    private static NodeKey LongTermKey(JsonElement side) => NodeKey.FromGoPrivateKey(side.Hex("ed25519_priv_key_hex"));

    private static EphemeralKeyPair Ephemeral(JsonElement side) => EphemeralKeyPair.FromPrivateKey(side.Hex("eph_priv_key_hex"));

    [Theory]
    [MemberData(nameof(Sides))]
    public void Long_term_keys_and_ids_match(string caseName, string sideName)
    {
        var (_, side, _) = VectorFiles.Side(caseName, sideName);
        using var fromGo = LongTermKey(side);
        Assert.Equal(side.Str("ed25519_pub_key_hex"), Convert.ToHexStringLower(fromGo.PublicKey));
        Assert.Equal(side.Str("node_id_hex"), fromGo.Id.Hex);
        Assert.Equal(side.Str("ed25519_priv_key_hex"), Convert.ToHexStringLower(fromGo.ToGoPrivateKey()));
        // The seed is SHA-256 of the secret string (Go's GenPrivKeyFromSecret).
        using var fromSecret = NodeKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes(side.Str("ed25519_secret"))));
        Assert.Equal(fromGo.PublicKey, fromSecret.PublicKey);
    }

    [Theory]
    [MemberData(nameof(Sides))]
    public void Ephemeral_keys_match(string caseName, string sideName)
    {
        var (_, side, _) = VectorFiles.Side(caseName, sideName);
        Assert.Equal(side.Str("eph_priv_key_hex"), Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(side.Str("eph_seed_label")))));
        using var eph = Ephemeral(side);
        Assert.Equal(side.Str("eph_pub_key_hex"), Convert.ToHexStringLower(eph.PublicKey));
    }

    [Theory]
    [MemberData(nameof(Sides))]
    public void Handshake_reproduces_every_intermediate_value_and_wire_byte(string caseName, string sideName)
    {
        var (hs, side, other) = VectorFiles.Side(caseName, sideName);
        using var key = LongTermKey(side);
        using var eph = Ephemeral(side);
        using var handshake = new SecretConnectionHandshake(key, NodeId.Parse(other.Str("node_id_hex")), eph);

        // 1. The ephemeral-key message in the clear.
        Assert.Equal(side.Str("wire_eph_msg_hex"), Convert.ToHexStringLower(handshake.Start()));

        // 2–8. The remote's ephemeral message arrives; we answer with our sealed AuthSig frame.
        var sent = new ArrayBufferWriter<byte>();
        handshake.Feed(other.Hex("wire_eph_msg_hex"), sent);
        Assert.Equal(side.GetProperty("loc_is_least").GetBoolean(), handshake.LocIsLeast);
        Assert.Equal(hs.Str("lo_eph_pub_hex"), Convert.ToHexStringLower(handshake.LowerEphemeralKey!));
        Assert.Equal(hs.Str("hi_eph_pub_hex"), Convert.ToHexStringLower(handshake.UpperEphemeralKey!));
        Assert.Equal(hs.Str("dh_secret_hex"), Convert.ToHexStringLower(handshake.DhSecret!));
        Assert.Equal(hs.Str("challenge_hex"), Convert.ToHexStringLower(handshake.Challenge!));
        Assert.Equal(side.Str("recv_key_hex"), Convert.ToHexStringLower(handshake.RecvKey!));
        Assert.Equal(side.Str("send_key_hex"), Convert.ToHexStringLower(handshake.SendKey!));
        Assert.Equal(side.Str("challenge_signature_hex"), Convert.ToHexStringLower(key.Sign(handshake.Challenge!)));

        var authFrame = side.GetProperty("wire_auth_sig_frame");
        Assert.Equal(authFrame.Str("sealed_zero_padded_hex"), Convert.ToHexStringLower(sent.WrittenSpan));
        Assert.False(handshake.IsComplete);

        // The AuthSig plaintext inside it is Go's exact encoding.
        using (var opener = new FrameOpener(other.Hex("recv_key_hex")))
        {
            var data = opener.OpenFrame(sent.WrittenSpan).ToArray();
            Assert.Equal(side.Str("auth_sig_msg_delimited_hex"), Convert.ToHexStringLower(data));
            Assert.Equal(authFrame.Str("frame_plaintext_hex")[..(8 + data.Length * 2)],
                Convert.ToHexStringLower(BitConverter.GetBytes(data.Length)) + Convert.ToHexStringLower(data));
        }

        // 8–9. Go's real AuthSig frame (stale padding and all) completes the handshake.
        var none = new ArrayBufferWriter<byte>();
        handshake.Feed(other.GetProperty("wire_auth_sig_frame").Hex("sealed_hex"), none);
        Assert.True(handshake.IsComplete);
        Assert.Equal(0, none.WrittenCount);
        var session = handshake.Session!;
        Assert.Equal(other.Str("node_id_hex"), session.RemoteId.Hex);
        Assert.Equal(other.Str("ed25519_pub_key_hex"), Convert.ToHexStringLower(session.RemotePublicKey));

        // Data phase: we open Go's real frames (in pieces of odd sizes) and seal exactly as Go would with zero padding.
        var expectedPlain = new List<byte>();
        foreach (var write in other.GetProperty("data_writes").EnumerateArray())
        {
            expectedPlain.AddRange(write.Hex("plaintext_hex"));
            var wire = write.GetProperty("frames").EnumerateArray().SelectMany(f => f.Hex("sealed_hex")).ToArray();
            for (var offset = 0; offset < wire.Length; offset += 333)
                session.Open(wire.AsSpan(offset, Math.Min(333, wire.Length - offset)));
        }
        Assert.Equal(expectedPlain.ToArray(), session.TakePendingPlaintext());

        foreach (var write in side.GetProperty("data_writes").EnumerateArray())
        {
            var frames = write.GetProperty("frames").EnumerateArray().ToArray();
            var sealedOut = new ArrayBufferWriter<byte>();
            var firstNonce = frames[0].Hex("nonce_hex");
            Assert.Equal(BitConverter.ToUInt64(firstNonce, 4), session.Sealer.Counter);
            session.Sealer.Seal(write.Hex("plaintext_hex"), sealedOut);
            Assert.Equal(string.Concat(frames.Select(f => f.Str("sealed_zero_padded_hex"))), Convert.ToHexStringLower(sealedOut.WrittenSpan));
        }
    }

    [Theory]
    [MemberData(nameof(SidesAndCiphers))]
    public void Our_frames_open_to_the_vector_plaintext(string caseName, string sideName, FrameCipherImplementation implementation)
    {
        var (_, side, _) = VectorFiles.Side(caseName, sideName);
        using var opener = new FrameOpener(VectorFiles.Side(caseName, sideName).Other.Hex("recv_key_hex"), implementation);
        // The other side's recv key opens this side's frames, in counter order: the auth frame then the data frames.
        var frames = new[] { side.GetProperty("wire_auth_sig_frame") }
            .Concat(side.GetProperty("data_writes").EnumerateArray().SelectMany(w => w.GetProperty("frames").EnumerateArray()));
        foreach (var frame in frames)
        {
            var plain = frame.Hex("frame_plaintext_hex");
            var length = BitConverter.ToInt32(plain, 0);
            var data = opener.OpenFrame(frame.Hex("sealed_hex")).ToArray();
            Assert.Equal(plain.AsSpan(4, length).ToArray(), data);
        }
    }

    [Theory]
    [MemberData(nameof(SidesAndCiphers))]
    public void Every_cipher_seals_and_opens_Go_frames_byte_for_byte(string caseName, string sideName, FrameCipherImplementation implementation)
    {
        // The cipher alone, on Go's exact plaintext (stale padding and all) and nonce: no framing of ours in between.
        var (_, side, _) = VectorFiles.Side(caseName, sideName);
        using var cipher = FrameCipher.Create(side.Hex("send_key_hex"), implementation);
        var frames = new[] { side.GetProperty("wire_auth_sig_frame") }
            .Concat(side.GetProperty("data_writes").EnumerateArray().SelectMany(w => w.GetProperty("frames").EnumerateArray()));
        foreach (var frame in frames)
        {
            var nonce = frame.Hex("nonce_hex");
            var plain = frame.Hex("frame_plaintext_hex");
            var sealedFrame = new byte[plain.Length + FrameCipher.TagSize];
            cipher.Seal(nonce, plain, sealedFrame);
            Assert.Equal(frame.Str("sealed_hex"), Convert.ToHexStringLower(sealedFrame));
            var opened = new byte[plain.Length];
            Assert.True(cipher.Open(nonce, frame.Hex("sealed_hex"), opened));
            Assert.Equal(plain, opened);
        }
    }

    [Fact]
    public void Two_state_machines_complete_against_each_other_and_exchange_data()
    {
        using var keyA = NodeKey.Generate();
        using var keyB = NodeKey.Generate();
        using var a = new SecretConnectionHandshake(keyA, keyB.Id);
        using var b = new SecretConnectionHandshake(keyB);
        var toB = new ArrayBufferWriter<byte>();
        var toA = new ArrayBufferWriter<byte>();
        toB.Write(a.Start());
        toA.Write(b.Start());
        for (var round = 0; round < 4 && !(a.IsComplete && b.IsComplete); round++)
        {
            var forA = toA.WrittenSpan.ToArray();
            var forB = toB.WrittenSpan.ToArray();
            toA.Clear();
            toB.Clear();
            a.Feed(forA, toB);
            b.Feed(forB, toA);
        }
        Assert.True(a.IsComplete && b.IsComplete);
        Assert.Equal(keyB.Id, a.Session!.RemoteId);
        Assert.Equal(keyA.Id, b.Session!.RemoteId);

        var message = RandomNumberGenerator.GetBytes(5000);
        var wire = new ArrayBufferWriter<byte>();
        a.Session.Sealer.Seal(message, wire);
        Assert.Equal(5 * Frame.SealedSize, wire.WrittenCount);
        b.Session.Open(wire.WrittenSpan);
        Assert.Equal(message, b.Session.TakePendingPlaintext());
    }
}

public class ProtobufVectorTests
{
    public static IEnumerable<object[]> Names() =>
        VectorFiles.Json("tendermint-v0.34.24-vectors.json").GetProperty("protobuf").EnumerateArray().Select(p => new object[] { p.Str("name") });

    private static IMessage Build(string name)
    {
        var nodeA = "eac7e7818b17eb3d423dc005fe9faa0d206f7cff";
        return name switch
        {
            "default_node_info_all_fields" => new DefaultNodeInfo
            {
                ProtocolVersion = new Wire.ProtocolVersion { P2P = 8, Block = 11, App = 1 },
                DefaultNodeId = nodeA,
                ListenAddr = "tcp://127.0.0.1:26656",
                Network = "test-net",
                Version = "0.34.24",
                Channels = ByteString.CopyFrom(64, 32, 33, 34, 35, 48, 56, 96, 97, 0),
                Moniker = "refvector-node",
                Other = new DefaultNodeInfoOther { TxIndex = "on", RpcAddress = "tcp://127.0.0.1:26657" },
            },
            // Built through our model, as our node would send it.
            "default_node_info_refpeer_like" => Protocol.NodeInfo.NodeInfo.Create(NodeId.Parse(nodeA), "tcp://127.0.0.1:26656",
                "test-net", "refpeer", [0, 66, 67], version: "0.34.24", txIndex: "off").ToProto(),
            "packet_msg_0x42_eof_hello" => new Packet { PacketMsg = new PacketMsg { ChannelId = 0x42, Eof = true, Data = ByteString.CopyFromUtf8("hello") } },
            "packet_ping" => new Packet { PacketPing = new PacketPing() },
            "packet_pong" => new Packet { PacketPong = new PacketPong() },
            "pex_request_message" => new Message { PexRequest = new PexRequest() },
            "pex_addrs_message_two_addrs" => new Message
            {
                PexAddrs = new PexAddrs
                {
                    Addrs =
                    {
                        new NetAddress(NodeId.Parse(nodeA), System.Net.IPAddress.Parse("127.0.0.1"), 26656).ToProto(),
                        NetAddress.Parse("90a84ef16429814fb1071d5b7cec755e695bf33a@10.0.0.2:36656").ToProto(),
                    },
                },
            },
            _ => throw new ArgumentException($"no builder for vector {name}: add one"),
        };
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Encoding_matches_raw_and_delimited(string name)
    {
        var vector = VectorFiles.Json("tendermint-v0.34.24-vectors.json").GetProperty("protobuf").EnumerateArray().Single(p => p.Str("name") == name);
        var message = Build(name);
        Assert.Equal(vector.Str("raw_hex"), Convert.ToHexStringLower(message.ToByteArray()));
        Assert.Equal(vector.Str("delimited_hex"), Convert.ToHexStringLower(LengthDelimited.Encode(message)));

        // And the bytes decode back to an equal message.
        var parsed = message.Descriptor.Parser.ParseFrom(vector.Hex("raw_hex"));
        Assert.Equal(message, parsed);
    }

    [Fact]
    public void Node_info_vectors_round_trip_through_the_model_and_validate()
    {
        foreach (var name in new[] { "default_node_info_all_fields", "default_node_info_refpeer_like" })
        {
            var vector = VectorFiles.Json("tendermint-v0.34.24-vectors.json").GetProperty("protobuf").EnumerateArray().Single(p => p.Str("name") == name);
            var model = Protocol.NodeInfo.NodeInfo.FromProto(DefaultNodeInfo.Parser.ParseFrom(vector.Hex("raw_hex")));
            model.Validate();
            Assert.Equal(vector.Str("raw_hex"), Convert.ToHexStringLower(model.ToProto().ToByteArray()));
        }
    }
}
