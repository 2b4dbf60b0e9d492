namespace TendermintActors.Protocol.Errors;

/// <summary>
/// Base of every error that ends one peer's connection. <see cref="Code"/> is a stable, low-cardinality
/// string ("handshake/low-order-point", "frame/authentication-failed", ...) used as the reason label in logs
/// and metrics; the message says what happened in words.
/// </summary>
public abstract class PeerConnectionException(string message, Exception? inner = null) : Exception(message, inner)
{
    public abstract string Code { get; }

    /// <summary>
    /// True when the remote broke the protocol or failed to prove itself (logged as a warning, the peer stopped "for
    /// error"); false for ordinary ends such as a liveness timeout.
    /// </summary>
    public virtual bool IsError => true;

    /// <summary>True when the remote failed to prove who it is (address books drop such an address).</summary>
    public virtual bool IsAuthFailure => false;
}

/// <summary>Why a SecretConnection handshake failed (docs/protocol.md §3).</summary>
public enum HandshakeFailure
{
    /// <summary>The ephemeral-key message did not decode as a length-delimited BytesValue.</summary>
    MalformedEphemeralKey,
    /// <summary>The ephemeral-key message declared a length over the 1 MiB read limit.</summary>
    OversizedEphemeralKey,
    /// <summary>The ephemeral public key was not exactly 32 bytes.</summary>
    EphemeralKeyWrongLength,
    /// <summary>X25519 with the remote's ephemeral key gave all zeros (a low-order point).</summary>
    LowOrderPoint,
    /// <summary>The remote sent our own ephemeral key back: a reflected connection.</summary>
    ReflectedEphemeralKey,
    /// <summary>The AuthSigMessage did not decode, or declared a length over the limit.</summary>
    MalformedAuthSig,
    /// <summary>The AuthSigMessage carried no signature, or one that is not 64 bytes.</summary>
    MissingSignature,
    /// <summary>The signature does not verify over our challenge.</summary>
    BadSignature,
    /// <summary>The AuthSigMessage carried no key, a non-Ed25519 key, or an Ed25519 key that is not 32 bytes.</summary>
    NotEd25519Key,
    /// <summary>The remote closed the stream before the handshake finished.</summary>
    UnexpectedEof,
    /// <summary>The upgrade did not finish within the handshake deadline.</summary>
    Timeout,
    /// <summary>We dialled id@host:port and the key that answered has another ID (man in the middle, or a stale address).</summary>
    DialledIdMismatch,
}

/// <summary>The SecretConnection handshake failed; the connection is closed.</summary>
public sealed class HandshakeFailedException(HandshakeFailure reason, string detail, Exception? inner = null)
    : PeerConnectionException($"secret connection handshake failed ({reason}): {detail}", inner)
{
    public HandshakeFailure Reason { get; } = reason;

    public override string Code => "handshake/" + ReasonCode.Kebab(Reason.ToString());

    public override bool IsAuthFailure => Reason is HandshakeFailure.BadSignature or HandshakeFailure.DialledIdMismatch
        or HandshakeFailure.NotEd25519Key or HandshakeFailure.MissingSignature;
}

/// <summary>Why an established connection broke the protocol.</summary>
public enum ProtocolViolation
{
    /// <summary>A sealed frame failed ChaCha20-Poly1305 authentication.</summary>
    FrameAuthenticationFailed,
    /// <summary>An opened frame declared a data length over 1024.</summary>
    FrameTooLong,
    /// <summary>A direction's 64-bit frame counter would wrap.</summary>
    NonceOverflow,
    /// <summary>A length-delimited message declared a length over the reader's maximum.</summary>
    MessageTooLarge,
    /// <summary>A length prefix was not a valid unsigned varint.</summary>
    MalformedLengthPrefix,
    /// <summary>A message did not decode as the expected protobuf type.</summary>
    MalformedMessage,
    /// <summary>A packet named a channel we do not have.</summary>
    UnknownChannel,
    /// <summary>A channel's reassembled message would exceed its receive capacity.</summary>
    ReceiveCapacityExceeded,
    /// <summary>The remote closed the stream in the middle of a message.</summary>
    UnexpectedEof,
}

/// <summary>An established connection received bytes that break the protocol; the connection is closed.</summary>
public sealed class ProtocolViolationException(ProtocolViolation reason, string detail, Exception? inner = null)
    : PeerConnectionException($"protocol violation ({reason}): {detail}", inner)
{
    public ProtocolViolation Reason { get; } = reason;

    public override string Code => "protocol/" + ReasonCode.Kebab(Reason.ToString());
}

/// <summary>Why the node-info exchange rejected a peer (docs/protocol.md §4), in the order the checks run.</summary>
public enum NodeInfoRejection
{
    /// <summary>The node info did not decode or was larger than 10240 bytes.</summary>
    Malformed,
    /// <summary>The node info breaks a validity rule (listen address, version, channels, moniker, other).</summary>
    Invalid,
    /// <summary>The authenticated key's ID differs from the node info's default_node_id.</summary>
    IdMismatch,
    /// <summary>The remote is ourselves.</summary>
    SelfConnection,
    /// <summary>The block protocol versions differ.</summary>
    IncompatibleBlockVersion,
    /// <summary>The networks (chain IDs) differ.</summary>
    IncompatibleNetwork,
    /// <summary>We declared channels and the remote shares none of them.</summary>
    NoCommonChannels,
}

/// <summary>The node-info exchange rejected the remote; the connection is closed.</summary>
public sealed class NodeInfoRejectedException(NodeInfoRejection reason, string detail, Exception? inner = null)
    : PeerConnectionException($"node info rejected ({reason}): {detail}", inner)
{
    public NodeInfoRejection Reason { get; } = reason;

    /// <summary>What was wrong, without the "node info rejected (reason)" prefix of the message.</summary>
    public string Detail { get; } = detail;

    public override string Code => "nodeinfo/" + ReasonCode.Kebab(Reason.ToString());

    public override bool IsAuthFailure => Reason == NodeInfoRejection.IdMismatch;
}

/// <summary>Reason enums as the stable, low-cardinality codes logs and metrics use: <c>LowOrderPoint</c> → <c>low-order-point</c>.</summary>
internal static class ReasonCode
{
    public static string Kebab(string name)
    {
        var sb = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
