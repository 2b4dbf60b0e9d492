using System.Buffers;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using Wire = TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.SecretConnection;

/// <summary>
/// The whole connection upgrade as one sans-IO state machine: the SecretConnection handshake, then (when a
/// local node info is given) the node-info exchange over the encrypted connection with every check of
/// docs/protocol.md §4. Feed it ciphertext; it writes ciphertext to send; when <see cref="IsComplete"/>, the session
/// carries on with the data phase.
/// </summary>
public sealed class ConnectionUpgrade : IDisposable
{
    private readonly SecretConnectionHandshake _handshake;
    private readonly NodeInfo.NodeInfo? _localInfo;
    private bool _nodeInfoSent;

    public ConnectionUpgrade(NodeKey localKey, NodeInfo.NodeInfo? localInfo, NodeId? expectedRemoteId = null, EphemeralKeyPair? ephemeral = null)
    {
        _handshake = new SecretConnectionHandshake(localKey, expectedRemoteId, ephemeral);
        _localInfo = localInfo;
    }

    /// <summary>True once the session is authenticated and (if asked for) the remote's node info accepted.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>True once the SecretConnection itself is authenticated.</summary>
    public bool IsAuthenticated => _handshake.IsComplete;

    public SecretConnectionSession? Session => _handshake.Session;

    /// <summary>The remote's node info, accepted (null when no node-info exchange was asked for).</summary>
    public NodeInfo.NodeInfo? RemoteNodeInfo { get; private set; }

    internal SecretConnectionHandshake Handshake => _handshake;

    public byte[] Start() => _handshake.Start();

    public void Feed(ReadOnlySpan<byte> ciphertext, IBufferWriter<byte> output)
    {
        if (IsComplete)
        {
            _handshake.Session!.Open(ciphertext);
            return;
        }
        _handshake.Feed(ciphertext, output);
        if (!_handshake.IsComplete) return;
        var session = _handshake.Session!;
        if (_localInfo is null)
        {
            IsComplete = true;
            return;
        }
        if (!_nodeInfoSent)
        {
            session.Sealer.Seal(LengthDelimited.Encode(_localInfo.ToProto()), output);
            _nodeInfoSent = true;
        }
        TryReadNodeInfo(session);
    }

    public void OnEndOfStream()
    {
        _handshake.OnEndOfStream();
        if (!IsComplete)
            throw new NodeInfoRejectedException(NodeInfoRejection.Malformed, "stream ended before the remote's node info");
    }

    private void TryReadNodeInfo(SecretConnectionSession session)
    {
        var pending = session.PendingPlaintext;
        int prefix, length;
        Wire.DefaultNodeInfo proto;
        try
        {
            if (!LengthDelimited.TryFrame(pending, NodeInfo.NodeInfo.MaxSize, out prefix, out length))
                return;
            proto = LengthDelimited.Parse(Wire.DefaultNodeInfo.Parser, pending.Slice(prefix, length));
        }
        catch (ProtocolViolationException e)
        {
            throw new NodeInfoRejectedException(NodeInfoRejection.Malformed, e.Message, e);
        }
        session.ConsumePlaintext(prefix + length);
        var remote = NodeInfo.NodeInfo.FromProto(proto);
        NodeInfo.NodeInfo.CheckRemote(_localInfo!, remote, session.RemoteId);
        RemoteNodeInfo = remote;
        IsComplete = true;
    }

    public void Dispose()
    {
        _handshake.Dispose();
        if (!IsComplete) _handshake.Session?.Dispose();
    }
}
