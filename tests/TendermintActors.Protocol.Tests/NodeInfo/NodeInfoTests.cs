using System.Buffers;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.SecretConnection;
using Model = TendermintActors.Protocol.NodeInfo.NodeInfo;
using ProtocolVersion = TendermintActors.Protocol.NodeInfo.ProtocolVersion;

namespace TendermintActors.Protocol.Tests.NodeInfo;

public class NodeInfoTests
{
    private const string Id = "2397b9cda2ec19d802cd523bdb0089d5b30854ec";

    private static Model Valid() =>
        Model.Create(NodeId.Parse(Id), "tcp://0.0.0.0:26656", "test-net", "node-1", [0x00, 0x40], version: "0.1.0");

    public static IEnumerable<object[]> InvalidCases() =>
    [
        ["listen address without port", Valid() with { ListenAddr = "tcp://0.0.0.0" }, "listen address"],
        ["listen address with bad host", Valid() with { ListenAddr = "tcp://bad host:1" }, "listen address"],
        ["17 channels", Valid() with { Channels = [.. Enumerable.Range(0, 17).Select(i => (byte)i)] }, "17 channels"],
        ["duplicate channel", Valid() with { Channels = [0x40, 0x20, 0x40] }, "0x40 is listed twice"],
        ["version not ASCII", Valid() with { Version = "v1.0é" }, "version"],
        ["version only spaces", Valid() with { Version = "   " }, "version"],
        ["empty moniker", Valid() with { Moniker = "" }, "moniker"],
        ["moniker only spaces", Valid() with { Moniker = "  " }, "moniker"],
        ["moniker with a tab", Valid() with { Moniker = "a\tb" }, "moniker"],
        ["bad tx_index", Valid() with { TxIndex = "maybe" }, "tx_index"],
        ["rpc address only spaces", Valid() with { RpcAddress = " " }, "rpc_address"],
        ["rpc address not ASCII", Valid() with { RpcAddress = "tcp://ü:1" }, "rpc_address"],
    ];

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Invalid_node_info_is_rejected_with_the_rule_it_breaks(string name, Model info, string expected)
    {
        var e = Assert.Throws<NodeInfoRejectedException>(info.Validate);
        Assert.Equal(NodeInfoRejection.Invalid, e.Reason);
        Assert.True(e.Message.Contains(expected), $"{name}: {e.Message}");
    }

    [Fact]
    public void Valid_node_info_passes_including_empty_optional_fields()
    {
        Valid().Validate();
        (Valid() with { Version = "", TxIndex = "", RpcAddress = "", Channels = [] }).Validate();
        (Valid() with { ListenAddr = "127.0.0.1:26656" }).Validate();
        (Valid() with { ListenAddr = "tcp://[::1]:26656" }).Validate();
        (Valid() with { ListenAddr = "tcp://node.example.com:26656" }).Validate();
        (Valid() with { ListenAddr = "tcp://0.0.0.0:0" }).Validate(); // a node that does not listen; Go accepts it
    }

    [Fact]
    public void Checks_run_in_order_valid_then_id_then_self_then_compatible()
    {
        using var us = NodeKey.Generate();
        using var them = NodeKey.Generate();
        var local = Model.Create(us.Id, "tcp://0.0.0.0:26656", "test-net", "us", [0x40]);
        var remote = Model.Create(them.Id, "tcp://0.0.0.0:26656", "test-net", "them", [0x40]);

        Model.CheckRemote(local, remote, them.Id);

        Assert.Equal(NodeInfoRejection.Invalid, Reject(local, remote with { Moniker = "", Network = "other" }, them.Id));
        // Claiming to be us is an ID mismatch, never a self-connection: nobody gets to mark an address as ours.
        Assert.Equal(NodeInfoRejection.IdMismatch, Reject(local, remote with { DefaultNodeId = us.Id.Hex }, them.Id));
        Assert.Equal(NodeInfoRejection.SelfConnection, Reject(local, local, us.Id));
        Assert.Equal(NodeInfoRejection.IncompatibleBlockVersion, Reject(local, remote with { ProtocolVersion = new ProtocolVersion(8, 10, 0), Network = "other" }, them.Id));
        Assert.Equal(NodeInfoRejection.IncompatibleNetwork, Reject(local, remote with { Network = "other", Channels = [0x20] }, them.Id));
        Assert.Equal(NodeInfoRejection.NoCommonChannels, Reject(local, remote with { Channels = [0x20] }, them.Id));
        // p2p and app versions may differ; a node that declares no channels accepts anyone's.
        Model.CheckRemote(local, remote with { ProtocolVersion = new ProtocolVersion(7, 11, 5) }, them.Id);
        Model.CheckRemote(local with { Channels = [] }, remote with { Channels = [0x20] }, them.Id);
    }

    private static NodeInfoRejection Reject(Model local, Model remote, NodeId authenticated) =>
        Assert.Throws<NodeInfoRejectedException>(() => Model.CheckRemote(local, remote, authenticated)).Reason;
}

/// <summary>The whole upgrade state machine, both sides in memory: handshake, then node-info exchange.</summary>
public class ConnectionUpgradeTests
{
    private static (ConnectionUpgrade A, ConnectionUpgrade B, Exception? ErrorA, Exception? ErrorB) Run(
        NodeKey keyA, Model? infoA, NodeKey keyB, Model? infoB, NodeId? aExpects = null, Func<byte[], byte[]>? tamperAtoB = null)
    {
        var a = new ConnectionUpgrade(keyA, infoA, aExpects);
        var b = new ConnectionUpgrade(keyB, infoB);
        var toA = new ArrayBufferWriter<byte>();
        var toB = new ArrayBufferWriter<byte>();
        toB.Write(a.Start());
        toA.Write(b.Start());
        Exception? errorA = null, errorB = null;
        for (var round = 0; round < 6; round++)
        {
            var forA = toA.WrittenSpan.ToArray();
            var forB = toB.WrittenSpan.ToArray();
            toA.Clear();
            toB.Clear();
            if (tamperAtoB is not null && forB.Length > 0) forB = tamperAtoB(forB);
            if (errorA is null && forA.Length > 0) try { a.Feed(forA, toB); } catch (Exception e) { errorA = e; }
            if (errorB is null && forB.Length > 0) try { b.Feed(forB, toA); } catch (Exception e) { errorB = e; }
        }
        return (a, b, errorA, errorB);
    }

    private static Model Info(NodeKey key, string network = "test-net", byte[]? channels = null) =>
        Model.Create(key.Id, "tcp://127.0.0.1:26656", network, "node", channels ?? [0x40, 0x20]);

    [Fact]
    public void Both_sides_complete_and_learn_each_others_node_info()
    {
        using var keyA = NodeKey.Generate();
        using var keyB = NodeKey.Generate();
        var (a, b, ea, eb) = Run(keyA, Info(keyA), keyB, Info(keyB), aExpects: keyB.Id);
        Assert.Null(ea);
        Assert.Null(eb);
        Assert.True(a.IsComplete && b.IsComplete);
        Assert.Equal(keyB.Id.Hex, a.RemoteNodeInfo!.DefaultNodeId);
        Assert.Equal(keyA.Id.Hex, b.RemoteNodeInfo!.DefaultNodeId);
    }

    [Fact]
    public void Different_networks_are_rejected_on_both_sides()
    {
        using var keyA = NodeKey.Generate();
        using var keyB = NodeKey.Generate();
        var (_, _, ea, eb) = Run(keyA, Info(keyA), keyB, Info(keyB, network: "other-net"));
        Assert.Equal(NodeInfoRejection.IncompatibleNetwork, Assert.IsType<NodeInfoRejectedException>(ea).Reason);
        Assert.Equal(NodeInfoRejection.IncompatibleNetwork, Assert.IsType<NodeInfoRejectedException>(eb).Reason);
    }

    [Fact]
    public void Connecting_to_ourselves_is_a_self_connection()
    {
        using var key = NodeKey.Generate();
        var (_, _, ea, eb) = Run(key, Info(key), key, Info(key));
        Assert.Equal(NodeInfoRejection.SelfConnection, Assert.IsType<NodeInfoRejectedException>(ea).Reason);
        Assert.Equal(NodeInfoRejection.SelfConnection, Assert.IsType<NodeInfoRejectedException>(eb).Reason);
    }

    [Fact]
    public void Node_info_naming_another_id_is_an_id_mismatch()
    {
        using var keyA = NodeKey.Generate();
        using var keyB = NodeKey.Generate();
        using var keyC = NodeKey.Generate();
        var (_, _, _, eb) = Run(keyA, Info(keyC), keyB, Info(keyB));
        var e = Assert.IsType<NodeInfoRejectedException>(eb);
        Assert.Equal(NodeInfoRejection.IdMismatch, e.Reason);
        Assert.True(e.IsAuthFailure);
    }

    [Fact]
    public void Dialled_id_mismatch_fails_before_any_node_info_is_read()
    {
        using var keyA = NodeKey.Generate();
        using var keyB = NodeKey.Generate();
        var (_, _, ea, _) = Run(keyA, Info(keyA), keyB, Info(keyB), aExpects: NodeKey.Generate().Id);
        Assert.Equal(HandshakeFailure.DialledIdMismatch, Assert.IsType<HandshakeFailedException>(ea).Reason);
    }

    [Fact]
    public void Node_info_over_10240_bytes_is_malformed()
    {
        using var keyA = NodeKey.Generate();
        using var keyB = NodeKey.Generate();
        var huge = Info(keyA) with { Version = new string('v', 11000) };
        var (_, _, _, eb) = Run(keyA, huge, keyB, Info(keyB));
        var e = Assert.IsType<NodeInfoRejectedException>(eb);
        Assert.Equal(NodeInfoRejection.Malformed, e.Reason);
    }

    [Fact]
    public void Tampered_auth_frame_fails_the_handshake()
    {
        using var keyA = NodeKey.Generate();
        using var keyB = NodeKey.Generate();
        var sent = 0;
        var (_, _, _, eb) = Run(keyA, null, keyB, null, tamperAtoB: bytes =>
        {
            // The second write from A is its sealed AuthSig frame: flip a bit in it.
            if (++sent == 2) bytes[20] ^= 1;
            return bytes;
        });
        Assert.Equal(HandshakeFailure.MalformedAuthSig, Assert.IsType<HandshakeFailedException>(eb).Reason);
    }

    [Fact]
    public void End_of_stream_before_the_remote_signature_is_a_typed_failure()
    {
        using var key = NodeKey.Generate();
        var upgrade = new ConnectionUpgrade(key, null);
        upgrade.Start();
        var e = Assert.Throws<HandshakeFailedException>(upgrade.OnEndOfStream);
        Assert.Equal(HandshakeFailure.UnexpectedEof, e.Reason);
    }
}

public class FrameTests
{
    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    [Theory]
    [InlineData(FrameCipherImplementation.Bcl)]
    [InlineData(FrameCipherImplementation.NSec)]
    [InlineData(FrameCipherImplementation.OpenSsl)]
    [InlineData(FrameCipherImplementation.Sodium)]
    [InlineData(FrameCipherImplementation.Adaptive)]
    public void Every_cipher_implementation_agrees_with_NSec(FrameCipherImplementation implementation)
    {
        using var reference = new FrameSealer(Key, FrameCipherImplementation.NSec);
        using var sealer = new FrameSealer(Key, implementation);
        using var opener = new FrameOpener(Key, implementation);
        var a = new byte[Frame.SealedSize];
        var b = new byte[Frame.SealedSize];
        reference.SealFrame("data"u8, a);
        sealer.SealFrame("data"u8, b);
        Assert.Equal(a, b);
        Assert.Equal("data"u8.ToArray(), opener.OpenFrame(b).ToArray());
    }

    [Fact]
    public void Writes_are_cut_into_1024_byte_frames_and_empty_writes_make_none()
    {
        Assert.Equal(0, Frame.SealedLength(0));
        Assert.Equal(Frame.SealedSize, Frame.SealedLength(1024));
        Assert.Equal(2 * Frame.SealedSize, Frame.SealedLength(1025));
        using var sealer = new FrameSealer(Key);
        using var opener = new FrameOpener(Key);
        var data = Enumerable.Range(0, 2049).Select(i => (byte)i).ToArray();
        var wire = new ArrayBufferWriter<byte>();
        sealer.Seal(data, wire);
        Assert.Equal(3 * Frame.SealedSize, wire.WrittenCount);
        Assert.Equal(3UL, sealer.Counter);
        var plain = new ArrayBufferWriter<byte>();
        opener.Open(wire.WrittenSpan, plain);
        Assert.Equal(data, plain.WrittenSpan.ToArray());
    }

    [Fact]
    public void Sealer_refuses_to_reuse_the_last_nonce()
    {
        using var sealer = new FrameSealer(Key, ulong.MaxValue - 1);
        var frame = new byte[Frame.SealedSize];
        sealer.SealFrame("x"u8, frame);
        var e = Assert.Throws<ProtocolViolationException>(() => sealer.SealFrame("y"u8, frame));
        Assert.Equal(ProtocolViolation.NonceOverflow, e.Reason);
    }

    [Fact]
    public void Opener_ends_the_connection_before_its_counter_wraps()
    {
        using var sealer = new FrameSealer(Key, ulong.MaxValue - 1);
        using var opener = new FrameOpener(Key, ulong.MaxValue - 1);
        var frame = new byte[Frame.SealedSize];
        sealer.SealFrame("x"u8, frame);
        Assert.Equal("x"u8.ToArray(), opener.OpenFrame(frame).ToArray());
        var e = Assert.Throws<ProtocolViolationException>(() => opener.OpenFrame(frame));
        Assert.Equal(ProtocolViolation.NonceOverflow, e.Reason);
    }

    [Fact]
    public void A_frame_replayed_or_out_of_order_fails_to_open()
    {
        using var sealer = new FrameSealer(Key);
        using var opener = new FrameOpener(Key);
        var first = new byte[Frame.SealedSize];
        var second = new byte[Frame.SealedSize];
        sealer.SealFrame("1"u8, first);
        sealer.SealFrame("2"u8, second);
        var e = Assert.Throws<ProtocolViolationException>(() => opener.OpenFrame(second));
        Assert.Equal(ProtocolViolation.FrameAuthenticationFailed, e.Reason);
    }
}
