using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.Identity;
using TendermintActors.Streams.Internal;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Streams;

/// <summary>What the SecretConnection proved about the remote.</summary>
public sealed record SecretConnectionInfo(NodeId RemoteId, byte[] RemotePublicKey);

/// <summary>The outcome of a connection upgrade: the authenticated remote and (when exchanged) its accepted node info.</summary>
public sealed record UpgradeResult(SecretConnectionInfo Connection, NodeInfoModel? RemoteNodeInfo);

/// <summary>Options of one connection upgrade.</summary>
public sealed record SecretConnectionSettings
{
    /// <summary>Deadline for the whole upgrade (handshake and node-info exchange). Our <c>handshake-timeout</c> key.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Sealed frames are gathered into writes of up to this many bytes while TCP is busy. A lone frame still goes
    /// out at once; under load, large writes are what make Akka.Streams TCP fast.
    /// </summary>
    public int MaxWriteBatchBytes { get; init; } = 64 * 1024;

    /// <summary>When we dialled <c>id@host:port</c>: the ID the remote must authenticate as.</summary>
    public NodeId? ExpectedRemoteId { get; init; }

    /// <summary>
    /// Opened plaintext goes downstream as a view of the connection's own buffer, valid only until the stage is pulled
    /// again, instead of in a fresh array per read. Only for a consumer that copies whatever it keeps before pulling
    /// again, with nothing between them that pulls ahead: the peer's MConnection stage, through the connection
    /// handover (Streams/Internal/ConnectionHandover.cs), which copies what it reads ahead.
    /// Saves allocating (and the GC zeroing) one byte per byte received.
    /// </summary>
    internal bool LendPlaintext { get; init; }

    /// <summary>
    /// Sealed writes go to the transport as a view of one of two buffers the stage keeps, taken back when the transport
    /// pulls again, instead of in a fresh array per write. Only for a transport flow fused with this stage that is done
    /// with a write before it pulls the next (<see cref="Transport.IP2PTransport.TakesWritesBeforePulling"/>).
    /// </summary>
    internal bool LendCiphertext { get; init; }
}

/// <summary>
/// The SecretConnection (docs/protocol.md §3) as an Akka.Streams <see cref="BidiFlow{TIn1,TOut1,TIn2,TOut2,TMat}"/>
/// to put on top of a TCP flow: the top direction takes plaintext and emits sealed frames gathered into large
/// writes, the bottom takes TCP bytes and emits plaintext as it is opened. It runs the handshake first (both sides
/// at once) and materialises the authenticated remote. Every failure fails the stream with a typed
/// <see cref="Protocol.Errors.PeerConnectionException"/>, which closes the TCP connection.
/// </summary>
public static class SecretConnection
{
    /// <summary>The SecretConnection alone: handshake, then encrypted bytes.</summary>
    public static BidiFlow<ByteString, ByteString, ByteString, ByteString, Task<SecretConnectionInfo>> Create(
        NodeKey localKey, SecretConnectionSettings? settings = null) =>
        BidiFlow.FromGraph(new SecretConnectionStage<SecretConnectionInfo>(localKey, null, settings ?? new SecretConnectionSettings(), r => r.Connection));

    /// <summary>
    /// The full connection upgrade: SecretConnection, then the node-info exchange with every check of
    /// docs/protocol.md §4 (valid, matching the authenticated ID, not ourselves, compatible). Plaintext flows only
    /// after the remote is accepted.
    /// </summary>
    public static BidiFlow<ByteString, ByteString, ByteString, ByteString, Task<UpgradeResult>> Upgrade(
        NodeKey localKey, NodeInfoModel localNodeInfo, SecretConnectionSettings? settings = null) =>
        BidiFlow.FromGraph(new SecretConnectionStage<UpgradeResult>(localKey, localNodeInfo, settings ?? new SecretConnectionSettings(), r => r));
}
