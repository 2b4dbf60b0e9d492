using System.Buffers;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.NodeInfo;
using TendermintActors.Protocol.SecretConnection;
using Wire = TendermintActors.Protocol.Wire;

namespace TendermintActors.Fuzz;

/// <summary>
/// Fixed keys for both sides of a handshake, so that every run of a target sees the same session: the targets that
/// fuzz what comes after the ephemeral key replay the remote's valid first messages, computed once here.
/// </summary>
internal static class FixedKeys
{
    public static NodeKey Local { get; } = NodeKey.FromSeed(Enumerable.Repeat((byte)0x11, 32).ToArray());
    public static NodeKey RemoteKey { get; } = NodeKey.FromSeed(Enumerable.Repeat((byte)0x22, 32).ToArray());
    public static EphemeralKeyPair LocalEphemeral { get; } = EphemeralKeyPair.FromPrivateKey(Enumerable.Repeat((byte)0x33, 32).ToArray());
    public static EphemeralKeyPair RemoteEphemeral { get; } = EphemeralKeyPair.FromPrivateKey(Enumerable.Repeat((byte)0x44, 32).ToArray());

    /// <summary>The key of the frame-opener target.</summary>
    public static byte[] FrameKey { get; } = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    public static NodeInfo LocalInfo { get; } = NodeInfo.Create(Local.Id, "tcp://127.0.0.1:26656", "fuzz-net", "local", [0x00, 0x20, 0x30]);

    /// <summary>A node info the local side accepts from the remote (a corpus seed).</summary>
    public static NodeInfo RemoteInfo { get; } = NodeInfo.Create(RemoteKey.Id, "tcp://127.0.0.1:26657", "fuzz-net", "remote", [0x00, 0x20, 0x30], version: "0.38.0", rpcAddress: "tcp://127.0.0.1:26658");

    public static RemoteSide Remote { get; } = RemoteSide.Create();

    /// <summary>What the remote sends in a valid handshake with <see cref="Local"/>, and the key it goes on sealing with.</summary>
    internal sealed record RemoteSide(byte[] EphemeralKeyMessage, byte[] SealedAuthSig, byte[] AuthSigPlaintext, byte[] SendKey, ulong AuthSigFrames)
    {
        public static RemoteSide Create()
        {
            using var remote = new SecretConnectionHandshake(RemoteKey, ephemeral: RemoteEphemeral);
            using var local = new SecretConnectionHandshake(Local, ephemeral: LocalEphemeral);
            var remoteFirst = remote.Start();
            var localFirst = local.Start();
            var remoteOut = new ArrayBufferWriter<byte>();
            remote.Feed(localFirst, remoteOut);
            var sendKey = remote.SendKey!;
            var authSig = new Wire.AuthSigMessage
            {
                PubKey = new Wire.PublicKey { Ed25519 = Google.Protobuf.ByteString.CopyFrom(RemoteKey.PublicKey) },
                Sig = Google.Protobuf.ByteString.CopyFrom(RemoteKey.Sign(remote.Challenge!)),
            };
            var plaintext = LengthDelimited.Encode(authSig);
            return new RemoteSide(remoteFirst, remoteOut.WrittenSpan.ToArray(), plaintext, sendKey,
                (ulong)(remoteOut.WrittenCount / Frame.SealedSize));
        }
    }
}
