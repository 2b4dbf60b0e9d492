using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit.Xunit2;
using Google.Protobuf;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.SecretConnection;
using TendermintActors.Protocol.Wire;
using TendermintActors.Streams;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// Each failure of the SecretConnection (docs/protocol.md §3) provoked by a scripted peer: our side reports the typed
/// reason, closes the connection, and keeps serving honest peers afterwards. Part of the transport conformance suite:
/// the server listens and the peers dial through the transport under test, once per transport (the classes below).
/// </summary>
public abstract class EvilPeerSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private IP2PTransport? _transport;

    protected abstract IP2PTransport CreateTransport();

    private IP2PTransport Transport => _transport ??= CreateTransport();

    private async Task<(UpgradeServer Server, NodeKey Key)> StartServer()
    {
        var key = NodeKey.Generate();
        var server = await UpgradeServer.Start(Sys, Sys.Materializer(), key, null,
            new SecretConnectionSettings { HandshakeTimeout = TimeSpan.FromSeconds(30) }, TestActor, Transport);
        return (server, key);
    }

    private Task<ScriptedPeer> Connect(UpgradeServer server) =>
        ScriptedPeer.Connect(Transport, server.Endpoint, Sys.Materializer(), Dilated(Timeout));

    private async Task<HandshakeFailedException> ExpectHandshakeFailure(HandshakeFailure reason)
    {
        var failed = await ExpectMsgAsync<UpgradeServer.UpgradeFailed>(Dilated(Timeout));
        var error = Assert.IsType<HandshakeFailedException>(failed.Error);
        Assert.Equal(reason, error.Reason);
        return error;
    }

    /// <summary>After the evil peer, an honest one still gets through: the host is unharmed.</summary>
    private async Task AssertHonestPeerStillServed(UpgradeServer server, NodeKey serverKey)
    {
        using var clientKey = NodeKey.Generate();
        var (info, _) = Dial(server, clientKey, serverKey.Id);
        var authenticated = await info.WaitAsync(Dilated(Timeout));
        Assert.Equal(serverKey.Id, authenticated.RemoteId);
        var upgraded = await ExpectMsgAsync<UpgradeServer.Upgraded>(Dilated(Timeout));
        Assert.Equal(clientKey.Id, upgraded.Result.Connection.RemoteId);
    }

    private static async Task ExpectClosedAfter(ScriptedPeer peer) =>
        Assert.True(await peer.WaitForClose(), "our side should close the connection");

    [Fact]
    public async Task Malformed_ephemeral_key_message_fails_the_handshake()
    {
        var (server, key) = await StartServer();
        using (var peer = await Connect(server))
        {
            peer.Send([0x02, 0x0a, 0x05]); // a BytesValue whose field claims 5 bytes but has none
            await ExpectHandshakeFailure(HandshakeFailure.MalformedEphemeralKey);
            await ExpectClosedAfter(peer);
        }
        await AssertHonestPeerStillServed(server, key);
    }

    [Fact]
    public async Task Oversized_ephemeral_key_message_fails_before_its_body_arrives()
    {
        var (server, key) = await StartServer();
        using (var peer = await Connect(server))
        {
            var prefix = new byte[LengthDelimited.MaxPrefixLength];
            var n = UVarint.Write(2 * 1024 * 1024, prefix);
            peer.Send(prefix.AsSpan(0, n)); // declares 2 MiB, sends nothing more
            await ExpectHandshakeFailure(HandshakeFailure.OversizedEphemeralKey);
            await ExpectClosedAfter(peer);
        }
        await AssertHonestPeerStillServed(server, key);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    public async Task Ephemeral_key_that_is_not_32_bytes_fails_the_handshake(int length)
    {
        var (server, key) = await StartServer();
        using (var peer = await Connect(server))
        {
            peer.SendEphemeralKey(new byte[length].Select((_, i) => (byte)(i + 1)).ToArray());
            await ExpectHandshakeFailure(HandshakeFailure.EphemeralKeyWrongLength);
            await ExpectClosedAfter(peer);
        }
        await AssertHonestPeerStillServed(server, key);
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")] // order 8
    [InlineData("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")] // p - 1
    public async Task Low_order_point_fails_the_handshake(string point)
    {
        var (server, key) = await StartServer();
        using (var peer = await Connect(server))
        {
            peer.SendEphemeralKey(Convert.FromHexString(point));
            await ExpectHandshakeFailure(HandshakeFailure.LowOrderPoint);
            await ExpectClosedAfter(peer);
        }
        await AssertHonestPeerStillServed(server, key);
    }

    [Fact]
    public async Task Reflected_ephemeral_key_fails_the_handshake()
    {
        var (server, key) = await StartServer();
        using (var peer = await Connect(server))
        {
            peer.SendEphemeralKey(await peer.ReadEphemeralKey()); // echo the server's own key back
            await ExpectHandshakeFailure(HandshakeFailure.ReflectedEphemeralKey);
            await ExpectClosedAfter(peer);
        }
        await AssertHonestPeerStillServed(server, key);
    }

    public static IEnumerable<object[]> BadAuthSigs() =>
    [
        ["signature over something else", HandshakeFailure.BadSignature],
        ["signature by another key", HandshakeFailure.BadSignature],
        ["truncated signature", HandshakeFailure.BadSignature],
        ["no signature", HandshakeFailure.MissingSignature],
        ["secp256k1 key", HandshakeFailure.NotEd25519Key],
        ["no key", HandshakeFailure.NotEd25519Key],
        ["31-byte ed25519 key", HandshakeFailure.NotEd25519Key],
        ["undecodable auth message", HandshakeFailure.MalformedAuthSig],
    ];

    [Theory]
    [MemberData(nameof(BadAuthSigs))]
    public async Task Bad_auth_sig_fails_the_handshake(string script, HandshakeFailure expected)
    {
        var (server, key) = await StartServer();
        using (var peer = await Connect(server))
        using (var evilKey = NodeKey.Generate())
        using (var otherKey = NodeKey.Generate())
        {
            var keys = await peer.ExchangeEphemeralKeys();
            var honest = new AuthSigMessage
            {
                PubKey = new PublicKey { Ed25519 = ByteString.CopyFrom(evilKey.PublicKey) },
                Sig = ByteString.CopyFrom(evilKey.Sign(keys.Challenge)),
            };
            byte[] plaintext = script switch
            {
                "signature over something else" => LengthDelimited.Encode(new AuthSigMessage(honest) { Sig = ByteString.CopyFrom(evilKey.Sign(new byte[32])) }),
                "signature by another key" => LengthDelimited.Encode(new AuthSigMessage(honest) { Sig = ByteString.CopyFrom(otherKey.Sign(keys.Challenge)) }),
                "truncated signature" => LengthDelimited.Encode(new AuthSigMessage(honest) { Sig = ByteString.CopyFrom(evilKey.Sign(keys.Challenge)[..63]) }),
                "no signature" => LengthDelimited.Encode(new AuthSigMessage(honest) { Sig = ByteString.Empty }),
                "secp256k1 key" => LengthDelimited.Encode(new AuthSigMessage(honest) { PubKey = new PublicKey { Secp256K1 = ByteString.CopyFrom(new byte[33]) } }),
                "no key" => LengthDelimited.Encode(new AuthSigMessage { Sig = honest.Sig }),
                "31-byte ed25519 key" => LengthDelimited.Encode(new AuthSigMessage(honest) { PubKey = new PublicKey { Ed25519 = ByteString.CopyFrom(evilKey.PublicKey[..31]) } }),
                "undecodable auth message" => [0x03, 0x0a, 0x7f, 0x00],
                _ => throw new ArgumentException(script),
            };
            peer.SendSealed(keys.Sealer, plaintext);
            await ExpectHandshakeFailure(expected);
            await ExpectClosedAfter(peer);
        }
        await AssertHonestPeerStillServed(server, key);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task End_of_stream_in_mid_handshake_fails_the_handshake(bool reset)
    {
        var (server, key) = await StartServer();
        using (var peer = await Connect(server))
        {
            await peer.ExchangeEphemeralKeys();
            // Goes away before sending its signature: with a clean end of stream, or with a reset.
            if (reset) peer.Reset(); else peer.CloseWrite();
            await ExpectHandshakeFailure(HandshakeFailure.UnexpectedEof);
        }
        await AssertHonestPeerStillServed(server, key);
    }

    [Fact]
    public async Task Dialled_id_that_does_not_match_the_key_fails_the_handshake()
    {
        var (server, key) = await StartServer();
        using var clientKey = NodeKey.Generate();
        var wrongId = NodeKey.Generate().Id;
        var (info, done) = Dial(server, clientKey, wrongId);
        var error = await Assert.ThrowsAsync<HandshakeFailedException>(() => info.WaitAsync(Dilated(Timeout)));
        Assert.Equal(HandshakeFailure.DialledIdMismatch, error.Reason);
        Assert.True(error.IsAuthFailure);
        await Assert.ThrowsAsync<HandshakeFailedException>(() => done.WaitAsync(Dilated(Timeout)));
        // The server saw an honest client that hung up: after or during the server's side of the handshake.
        switch (await ExpectMsgAsync<object>(Dilated(Timeout)))
        {
            case UpgradeServer.Upgraded upgraded:
                Assert.Equal(clientKey.Id, upgraded.Result.Connection.RemoteId);
                await ExpectMsgAsync<UpgradeServer.ConnectionEnded>(Dilated(Timeout));
                break;
            case UpgradeServer.UpgradeFailed failed:
                Assert.Equal(HandshakeFailure.UnexpectedEof, Assert.IsType<HandshakeFailedException>(failed.Error).Reason);
                break;
            case var other:
                Assert.Fail($"unexpected {other}");
                break;
        }
        await AssertHonestPeerStillServed(server, key);
    }

    /// <summary>
    /// An evil peer completes the handshake honestly, then <paramref name="misbehave"/>s: our side must end the
    /// connection with <paramref name="expected"/>, close the socket, and go on serving honest peers.
    /// </summary>
    private async Task AssertDataPhaseViolation(Action<ScriptedPeer, ScriptedPeer.Keys> misbehave, ProtocolViolation expected)
    {
        var (server, key) = await StartServer();
        using (var peer = await Connect(server))
        using (var evilKey = NodeKey.Generate())
        {
            var keys = await HonestHandshake(peer, evilKey);
            misbehave(peer, keys);
            var ended = await ExpectMsgAsync<UpgradeServer.ConnectionEnded>(Dilated(Timeout));
            Assert.Equal(expected, Assert.IsType<ProtocolViolationException>(ended.Error).Reason);
            await ExpectClosedAfter(peer);
        }
        await AssertHonestPeerStillServed(server, key);
    }

    private static byte[] SealedHello(ScriptedPeer.Keys keys)
    {
        var frame = new System.Buffers.ArrayBufferWriter<byte>();
        keys.Sealer.Seal("hello"u8, frame);
        return frame.WrittenSpan.ToArray();
    }

    [Fact]
    public Task Frame_that_fails_to_open_ends_the_connection() =>
        AssertDataPhaseViolation((peer, keys) =>
        {
            var tampered = SealedHello(keys);
            tampered[10] ^= 0x01;
            peer.Send(tampered);
        }, ProtocolViolation.FrameAuthenticationFailed);

    [Fact]
    public Task Frame_declaring_more_than_1024_bytes_ends_the_connection() =>
        AssertDataPhaseViolation((peer, keys) =>
        {
            // Seal a frame by hand whose length field says 1025, with the next nonce (1: the auth frame used 0).
            var plain = new byte[Frame.PlainSize];
            BitConverter.TryWriteBytes(plain, 1025);
            var nonce = new byte[12];
            BitConverter.TryWriteBytes(nonce.AsSpan(4), keys.Sealer.Counter);
            var sealedFrame = new byte[Frame.SealedSize];
            using (var cipher = FrameCipher.Create(keys.SendKey))
                cipher.Seal(nonce, plain, sealedFrame);
            peer.Send(sealedFrame);
        }, ProtocolViolation.FrameTooLong);

    [Fact]
    public Task Stream_ending_inside_a_frame_ends_the_connection_with_a_typed_reason() =>
        AssertDataPhaseViolation((peer, keys) =>
        {
            peer.Send(SealedHello(keys).AsSpan(0, 500));
            peer.CloseWrite();
        }, ProtocolViolation.UnexpectedEof);

    /// <summary>An honest client: the authenticated remote, and the end of its (read) stream.</summary>
    private (Task<SecretConnectionInfo> Info, Task Done) Dial(UpgradeServer server, NodeKey clientKey, NodeId expected)
    {
        var connection = SecretConnection.Create(clientKey, new SecretConnectionSettings { ExpectedRemoteId = expected })
            .JoinMat(Transport.Dial(server.Endpoint.Address.ToString(), server.Endpoint.Port, Dilated(Timeout)),
                (Task<SecretConnectionInfo> info, Task<System.Net.EndPoint> _) => info);
        return Source.Never<Akka.IO.ByteString>()
            .ViaMaterialized(connection, (NotUsed _, Task<SecretConnectionInfo> info) => info)
            .ToMaterialized(Sink.Ignore<Akka.IO.ByteString>(), (info, done) => (info, (Task)done))
            .Run(Sys.Materializer());
    }

    private async Task<ScriptedPeer.Keys> HonestHandshake(ScriptedPeer peer, NodeKey evilKey)
    {
        var keys = await peer.ExchangeEphemeralKeys();
        peer.SendSealed(keys.Sealer, LengthDelimited.Encode(new AuthSigMessage
        {
            PubKey = new PublicKey { Ed25519 = ByteString.CopyFrom(evilKey.PublicKey) },
            Sig = ByteString.CopyFrom(evilKey.Sign(keys.Challenge)),
        }));
        Assert.Equal(evilKey.Id, (await ExpectMsgAsync<UpgradeServer.Upgraded>(Dilated(Timeout))).Result.Connection.RemoteId);
        return keys;
    }
}

public sealed class EvilPeerOverSocketsSpecs(ITestOutputHelper output) : EvilPeerSpecs(output)
{
    protected override IP2PTransport CreateTransport() => new TcpTransport();
}

public sealed class EvilPeerOverAkkaIoSpecs(ITestOutputHelper output) : EvilPeerSpecs(output)
{
    protected override IP2PTransport CreateTransport() => new AkkaIoTransport();
}

public sealed class EvilPeerInMemorySpecs(ITestOutputHelper output) : EvilPeerSpecs(output)
{
    protected override IP2PTransport CreateTransport() => new InMemoryTransport(InMemoryNetwork.Create(Sys));
}
