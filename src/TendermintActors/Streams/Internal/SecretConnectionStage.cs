using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.SecretConnection;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// The ID the remote must authenticate as (<see cref="SecretConnectionSettings.ExpectedRemoteId"/>), given to one
/// materialisation of a SecretConnection stage built for every connection.
/// </summary>
internal sealed record ExpectedRemoteId(NodeId Id) : Attributes.IAttribute;

/// <summary>
/// I/O shell around <see cref="ConnectionUpgrade"/>: shape is plain-in → cipher-out (top) and cipher-in →
/// plain-out (bottom). Back-pressure: TCP is only read while the application has taken all plaintext opened so
/// far; the application is read while the pending ciphertext is under the batch limit.
/// </summary>
internal sealed class SecretConnectionStage<TMat>(
    NodeKey localKey, NodeInfoModel? localNodeInfo, SecretConnectionSettings settings, Func<UpgradeResult, TMat> project)
    : GraphStageWithMaterializedValue<BidiShape<ByteString, ByteString, ByteString, ByteString>, Task<TMat>>
{
    private readonly NodeKey _localKey = localKey;
    private readonly NodeInfoModel? _localNodeInfo = localNodeInfo;
    private readonly SecretConnectionSettings _settings = settings;
    private readonly Func<UpgradeResult, TMat> _project = project;

    private readonly Inlet<ByteString> _plainIn = new("SecretConnection.plainIn");
    private readonly Outlet<ByteString> _cipherOut = new("SecretConnection.cipherOut");
    private readonly Inlet<ByteString> _cipherIn = new("SecretConnection.cipherIn");
    private readonly Outlet<ByteString> _plainOut = new("SecretConnection.plainOut");

    private BidiShape<ByteString, ByteString, ByteString, ByteString>? _shape;

    // One shape instance for the stage's lifetime: Akka compares shapes when rewiring (e.g. BidiFlow.Reversed).
    public override BidiShape<ByteString, ByteString, ByteString, ByteString> Shape =>
        _shape ??= new(_plainIn, _cipherOut, _cipherIn, _plainOut);

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("secret-connection");

    public override ILogicAndMaterializedValue<Task<TMat>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var promise = new TaskCompletionSource<TMat>(TaskCreationOptions.RunContinuationsAsynchronously);
        // A graph fused once for every connection carries the ID a dialled remote must prove as an attribute.
        var expected = inheritedAttributes.GetAttribute<ExpectedRemoteId>()?.Id ?? _settings.ExpectedRemoteId;
        return new LogicAndMaterializedValue<Task<TMat>>(new Logic(this, promise, expected), promise.Task);
    }

    private sealed class Logic : TimerLogic
    {
        private const string DeadlineTimer = "handshake-deadline";
        private readonly SecretConnectionStage<TMat> _stage;
        private readonly TaskCompletionSource<TMat> _promise;
        // Dropped once the upgrade is complete: the handshake's state (transcript, buffers, ~1.5 KiB) is then garbage,
        // and only the session it made is needed.
        private ConnectionUpgrade? _upgrade;
        private readonly int _batchLimit;
        private readonly ByteStringWriter _cipherPending = new(Frame.SealedSize);
        private SecretConnectionSession? _session;
        private bool _plainInFinished;
        private bool _cipherInFinished;
        private int _lent; // plaintext bytes pushed as a view of the session's buffer, taken once downstream pulls again

        public Logic(SecretConnectionStage<TMat> stage, TaskCompletionSource<TMat> promise, NodeId? expectedRemoteId) : base(stage.Shape)
        {
            _stage = stage;
            _promise = promise;
            _batchLimit = Math.Max(Frame.SealedSize, stage._settings.MaxWriteBatchBytes);
            _upgrade = new ConnectionUpgrade(stage._localKey, stage._localNodeInfo, expectedRemoteId);

            SetHandler(stage._cipherIn, new InHandlerOf<Logic>(this, static l => l.OnCipherPush(), static l => l.OnCipherFinish(), static (l, e) => l.OnCipherFailure(e)));
            SetHandler(stage._plainOut, new OutHandlerOf<Logic>(this, static l => l.OnPlainPull(), static (l, cause) => l.OnPlainCancel(cause)));
            SetHandler(stage._plainIn, new InHandlerOf<Logic>(this, static l => l.OnPlainPush(), static l => l.OnPlainFinish(), static (l, e) => l.Fail(e)));
            SetHandler(stage._cipherOut, new OutHandlerOf<Logic>(this, static l => l.OnCipherPull(), static (l, cause) => l.OnCipherCancel(cause)));
        }

        private bool Upgraded => _session is not null;

        /// <summary>Whether the upgrade's handshake state is still held (specs: not once upgraded).</summary>
        internal bool HoldsHandshake => _upgrade is not null;

        public override void PreStart()
        {
            _cipherPending.Write(_upgrade!.Start());
            ScheduleOnce(DeadlineTimer, _stage._settings.HandshakeTimeout);
            Pull(_stage._cipherIn);
        }

        protected override void OnTimer(object timerKey) =>
            Fail(new HandshakeFailedException(HandshakeFailure.Timeout,
                $"connection upgrade did not finish within {_stage._settings.HandshakeTimeout.TotalSeconds:0.###} s"));

        private void OnCipherPush()
        {
            var bytes = Grab(_stage._cipherIn);
            try
            {
                if (Upgraded)
                {
                    // Akka's TCP hands over compact ByteStrings, for which this is a view, not a copy. Nothing lent
                    // is outstanding here (TCP is pulled only once downstream has taken everything): opening writes
                    // over the last pending bytes for a moment.
                    System.Diagnostics.Debug.Assert(_lent == 0, "opening while plaintext is lent");
                    _session!.Open(bytes.ToReadOnlySpan());
                }
                else
                {
                    _upgrade!.Feed(bytes.ToReadOnlySpan(), _cipherPending);
                    if (_upgrade.IsComplete)
                        OnUpgraded();
                    else
                        Pull(_stage._cipherIn); // the handshake reads regardless of application demand
                }
            }
            catch (PeerConnectionException e)
            {
                Fail(e);
                return;
            }
            PushCipher();
            PushPlainOrPull();
        }

        private void OnUpgraded()
        {
            CancelTimer(DeadlineTimer);
            _session = _upgrade!.Session!;
            var connection = new SecretConnectionInfo(_session.RemoteId, _session.RemotePublicKey);
            var remoteNodeInfo = NodeInfoStrings.SharingLocal(_upgrade.RemoteNodeInfo, _stage._localNodeInfo, _session.RemoteId);
            _upgrade.Dispose(); // a complete upgrade leaves its session alone
            _upgrade = null;
            _promise.TrySetResult(_stage._project(new UpgradeResult(connection, remoteNodeInfo)));
            PullPlainIfRoom();
        }

        private void OnCipherFinish()
        {
            _cipherInFinished = true;
            try
            {
                if (!Upgraded)
                    _upgrade!.OnEndOfStream();
                else if (_session!.Opener.PendingBytes > 0)
                    throw new ProtocolViolationException(ProtocolViolation.UnexpectedEof,
                        $"stream ended inside a frame ({_session.Opener.PendingBytes} of {Frame.SealedSize} bytes)");
            }
            catch (PeerConnectionException e)
            {
                Fail(e);
                return;
            }
            PushPlainOrPull();
        }

        /// <summary>
        /// The transport failed (typically a reset). During the upgrade that is the remote going away mid-handshake;
        /// afterwards it is a transport error and passes through as it is.
        /// </summary>
        private void OnCipherFailure(Exception e) =>
            Fail(Upgraded ? e : new HandshakeFailedException(HandshakeFailure.UnexpectedEof, $"transport failed during the upgrade: {e.Message}", e));

        private void OnPlainPull()
        {
            // Downstream asked again, so it is done with the view it was lent: those bytes can go.
            if (_lent > 0)
            {
                _session!.ConsumePlaintext(_lent);
                _lent = 0;
            }
            PushPlainOrPull();
        }

        /// <summary>
        /// The application stopped reading: stop reading TCP, but keep the write direction open so whatever it
        /// still sends (and what is already sealed) reaches the remote; the stage ends when that side completes.
        /// </summary>
        private void OnPlainCancel(Exception cause)
        {
            if (!Upgraded || cause is not SubscriptionWithCancelException.NonFailureCancellation)
            {
                Fail(cause is SubscriptionWithCancelException.NonFailureCancellation
                    ? new HandshakeFailedException(HandshakeFailure.UnexpectedEof, "the application closed before the upgrade finished")
                    : cause);
                return;
            }
            if (!IsClosed(_stage._cipherIn)) Cancel(_stage._cipherIn);
        }

        /// <summary>Gives the application what has been opened, or asks TCP for more when it has taken it all.</summary>
        private void PushPlainOrPull()
        {
            if (!Upgraded) return;
            if (_session!.PendingPlaintextLength > 0)
            {
                if (IsAvailable(_stage._plainOut))
                {
                    // Either lent (the buffer is reused once downstream pulls again) or given away (the session
                    // starts a new one); the plaintext is not copied either way.
                    var lend = _stage._settings.LendPlaintext;
                    var (array, offset, count) = lend ? _session.PeekPendingPlaintext() : _session.DetachPendingPlaintext();
                    _lent = lend ? count : 0;
                    Push(_stage._plainOut, ByteString.FromBytes(array, offset, count));
                }
                return;
            }
            if (_cipherInFinished)
            {
                Complete(_stage._plainOut);
                return;
            }
            if (IsAvailable(_stage._plainOut) && !HasBeenPulled(_stage._cipherIn))
                Pull(_stage._cipherIn);
        }

        private void OnPlainPush()
        {
            var plaintext = Grab(_stage._plainIn);
            try
            {
                _session!.Sealer.Seal(plaintext.ToReadOnlySpan(), _cipherPending);
            }
            catch (PeerConnectionException e)
            {
                Fail(e);
                return;
            }
            PushCipher();
            PullPlainIfRoom();
        }

        private void OnPlainFinish()
        {
            _plainInFinished = true;
            CompleteCipherWhenFlushed();
        }

        private void OnCipherPull()
        {
            // The transport asks again only once it is done with the write it was lent (LendCiphertext).
            _cipherPending.Reclaim();
            // Nothing was sealed meanwhile: the connection's writes have stopped for now, so it holds no array until
            // the next one (a streaming connection always has the next batch here, and keeps its spare).
            if (_cipherPending.WrittenCount == 0)
                _cipherPending.ReleaseSpare();
            PushCipher();
            PullPlainIfRoom();
        }

        /// <summary>The transport stopped taking our bytes (closed or reset).</summary>
        private void OnCipherCancel(Exception cause)
        {
            if (!Upgraded)
                Fail(new HandshakeFailedException(HandshakeFailure.UnexpectedEof, $"transport closed during the upgrade: {cause.Message}", cause));
            else if (cause is SubscriptionWithCancelException.NonFailureCancellation)
                CompleteStage();
            else
                Fail(cause);
        }

        private void PushCipher()
        {
            if (_cipherPending.WrittenCount > 0 && IsAvailable(_stage._cipherOut))
            {
                // Hand the filled buffer to TCP as it is, lent or given away, and write on into another: no copy of
                // the sealed bytes.
                _cipherPending.NextCapacity = Math.Min(_batchLimit, Math.Max(_cipherPending.WrittenCount, Frame.SealedSize));
                Push(_stage._cipherOut, _stage._settings.LendCiphertext ? _cipherPending.Lend() : _cipherPending.Detach());
            }
            CompleteCipherWhenFlushed();
        }

        /// <summary>
        /// Ends the write direction once the application has finished, the upgrade is done and the transport asks for
        /// more after the last batch: Akka's TCP asks only when that write is acknowledged. Completing together with
        /// the last push would make Akka.IO (1.5.74) hold the half-close behind the write, and it drops a held
        /// half-close when the remote's FIN arrives meanwhile: the remote would wait for our end of stream forever.
        /// </summary>
        private void CompleteCipherWhenFlushed()
        {
            if (Upgraded && _plainInFinished && _cipherPending.WrittenCount == 0 && IsAvailable(_stage._cipherOut))
                Complete(_stage._cipherOut);
        }

        private void PullPlainIfRoom()
        {
            if (Upgraded && !_plainInFinished && !HasBeenPulled(_stage._plainIn) && !IsClosed(_stage._plainIn)
                && _cipherPending.WrittenCount < _batchLimit)
                Pull(_stage._plainIn);
        }

        private void Fail(Exception e)
        {
            _promise.TrySetException(e);
            FailStage(e);
        }

        public override void PostStop()
        {
            _promise.TrySetException(_cipherInFinished
                ? new HandshakeFailedException(HandshakeFailure.UnexpectedEof, "stream ended before the upgrade finished")
                : new AbruptStageTerminationException(this));
            _upgrade?.Dispose();
            _session?.Dispose();
        }
    }
}

/// <summary>What a remote's node info can share with ours.</summary>
internal static class NodeInfoStrings
{
    /// <summary>
    /// <paramref name="remote"/> with the strings that equal ours (the network, which must; the version and the tx
    /// index, which mostly do) replaced by our instances, and its node ID by the one its key authenticated
    /// (<paramref name="authenticated"/>, when given and equal): a peer keeps its node info for its life, and each copy
    /// of the same network name or ID is one more string per peer.
    /// </summary>
    public static NodeInfoModel? SharingLocal(NodeInfoModel? remote, NodeInfoModel? local, NodeId authenticated = default)
    {
        if (remote is null || local is null) return remote;
        var network = Shared(remote.Network, local.Network);
        var version = Shared(remote.Version, local.Version);
        var txIndex = Shared(remote.TxIndex, local.TxIndex);
        var id = authenticated.IsEmpty ? remote.DefaultNodeId : Shared(remote.DefaultNodeId, authenticated.Hex);
        if (ReferenceEquals(network, remote.Network) && ReferenceEquals(version, remote.Version) && ReferenceEquals(txIndex, remote.TxIndex)
            && ReferenceEquals(id, remote.DefaultNodeId))
            return remote;
        return remote with { Network = network, Version = version, TxIndex = txIndex, DefaultNodeId = id };
    }

    private static string Shared(string theirs, string ours) => string.Equals(theirs, ours, StringComparison.Ordinal) ? ours : theirs;
}
