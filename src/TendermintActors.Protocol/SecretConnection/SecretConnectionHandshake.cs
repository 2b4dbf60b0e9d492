using System.Buffers;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TendermintActors.Protocol.Crypto;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.SecretConnection;

/// <summary>
/// The SecretConnection station-to-station handshake as a sans-IO state machine (docs/protocol.md §3).
/// <see cref="Start"/> gives the first bytes to write; <see cref="Feed"/> takes bytes as they arrive and
/// writes whatever must be sent in reply. Both sides run it at once: nothing waits for the other to speak first.
/// Every failure is a <see cref="HandshakeFailedException"/> with its reason.
/// </summary>
public sealed class SecretConnectionHandshake : IDisposable
{
    /// <summary>Read limit for both handshake messages (Go's 1 MiB).</summary>
    public const int MaxHandshakeMessageSize = 1024 * 1024;

    private static readonly byte[] TranscriptLabel = "TENDERMINT_SECRET_CONNECTION_TRANSCRIPT_HASH"u8.ToArray();
    private static readonly byte[] HkdfInfo = "TENDERMINT_SECRET_CONNECTION_KEY_AND_CHALLENGE_GEN"u8.ToArray();

    private enum State { New, AwaitingEphemeralKey, AwaitingAuthSig, Complete, Failed }

    private readonly NodeKey _localKey;
    private readonly EphemeralKeyPair _ephemeral;
    private readonly bool _ownsEphemeral;
    private readonly NodeId? _expectedRemoteId;
    private readonly ArrayBufferWriter<byte> _input = new();
    private ArrayBufferWriter<byte> _plaintext = new();
    private State _state = State.New;
    private FrameSealer? _sealer;
    private FrameOpener? _opener;

    /// <param name="localKey">Our long-term key, whose signature authenticates us.</param>
    /// <param name="expectedRemoteId">When we dialled <c>id@host:port</c>: the ID the remote must prove.</param>
    /// <param name="ephemeral">Fixed ephemeral keys (tests and vectors); a fresh pair otherwise.</param>
    public SecretConnectionHandshake(NodeKey localKey, NodeId? expectedRemoteId = null, EphemeralKeyPair? ephemeral = null)
    {
        _localKey = localKey;
        _expectedRemoteId = expectedRemoteId;
        _ownsEphemeral = ephemeral is null;
        _ephemeral = ephemeral ?? EphemeralKeyPair.Generate();
    }

    public bool IsComplete => _state == State.Complete;

    // What the handshake computed, for vector tests and diagnostics.
    internal byte[]? LowerEphemeralKey { get; private set; }
    internal byte[]? UpperEphemeralKey { get; private set; }
    internal bool LocIsLeast { get; private set; }
    internal byte[]? DhSecret { get; private set; }
    internal byte[]? Challenge { get; private set; }
    internal byte[]? RecvKey { get; private set; }
    internal byte[]? SendKey { get; private set; }

    /// <summary>Set when <see cref="IsComplete"/>.</summary>
    public SecretConnectionSession? Session { get; private set; }

    /// <summary>The uvarint-prefixed BytesValue carrying our ephemeral public key (sent in the clear).</summary>
    public byte[] Start()
    {
        if (_state != State.New)
            throw new InvalidOperationException("the handshake has already started");
        _state = State.AwaitingEphemeralKey;
        return LengthDelimited.Encode(new BytesValue { Value = ByteString.CopyFrom(_ephemeral.PublicKey) });
    }

    /// <summary>
    /// Feeds received bytes. Anything to send is written to <paramref name="output"/>. Once complete, bytes that
    /// followed the handshake are already in <see cref="Session"/>'s pending plaintext.
    /// </summary>
    public void Feed(ReadOnlySpan<byte> received, IBufferWriter<byte> output)
    {
        switch (_state)
        {
            case State.New:
                throw new InvalidOperationException("call Start before Feed");
            case State.Complete:
                Session!.Open(received);
                return;
            case State.Failed:
                throw new InvalidOperationException("the handshake has failed");
        }
        try
        {
            if (_state == State.AwaitingEphemeralKey)
            {
                _input.Write(received);
                if (!TryReadEphemeralKey(out var remoteEphemeral, out var consumed))
                    return;
                OnEphemeralKey(remoteEphemeral, output);
                var rest = _input.WrittenSpan[consumed..].ToArray();
                _input.Clear();
                received = rest;
            }
            if (_state == State.AwaitingAuthSig)
            {
                _opener!.Open(received, _plaintext);
                TryCompleteAuth();
            }
        }
        catch (HandshakeFailedException)
        {
            Fail();
            throw;
        }
        catch (ProtocolViolationException e) when (_state == State.AwaitingAuthSig)
        {
            Fail();
            throw new HandshakeFailedException(HandshakeFailure.MalformedAuthSig, e.Message, e);
        }
    }

    /// <summary>The remote closed its side: if we are not done, that is a handshake failure.</summary>
    public void OnEndOfStream()
    {
        if (_state is State.Complete or State.Failed) return;
        Fail();
        throw new HandshakeFailedException(HandshakeFailure.UnexpectedEof,
            _state == State.AwaitingEphemeralKey ? "stream ended before the remote's ephemeral key" : "stream ended before the remote's signature");
    }

    private bool TryReadEphemeralKey(out byte[] key, out int consumed)
    {
        key = [];
        consumed = 0;
        var buffered = _input.WrittenSpan;
        int prefix, length;
        try
        {
            if (!LengthDelimited.TryFrame(buffered, MaxHandshakeMessageSize, out prefix, out length))
                return false;
        }
        catch (ProtocolViolationException e) when (e.Reason == ProtocolViolation.MessageTooLarge)
        {
            throw new HandshakeFailedException(HandshakeFailure.OversizedEphemeralKey, e.Message, e);
        }
        catch (ProtocolViolationException e)
        {
            throw new HandshakeFailedException(HandshakeFailure.MalformedEphemeralKey, e.Message, e);
        }
        BytesValue message;
        try
        {
            message = BytesValue.Parser.ParseFrom(buffered.Slice(prefix, length));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new HandshakeFailedException(HandshakeFailure.MalformedEphemeralKey, $"ephemeral key message does not decode: {e.Message}", e);
        }
        if (message.Value.Length != 32)
            throw new HandshakeFailedException(HandshakeFailure.EphemeralKeyWrongLength,
                $"ephemeral public key has {message.Value.Length} bytes, expected 32");
        key = message.Value.ToByteArray();
        consumed = prefix + length;
        return true;
    }

    private void OnEphemeralKey(byte[] remoteEphemeral, IBufferWriter<byte> output)
    {
        var local = _ephemeral.PublicKey;
        var order = local.AsSpan().SequenceCompareTo(remoteEphemeral);
        if (order == 0)
            throw new HandshakeFailedException(HandshakeFailure.ReflectedEphemeralKey,
                "the remote's ephemeral key equals ours (a reflected connection)");
        LocIsLeast = order < 0;
        LowerEphemeralKey = LocIsLeast ? local : remoteEphemeral;
        UpperEphemeralKey = LocIsLeast ? remoteEphemeral : local;

        var dh = new byte[32];
        if (!_ephemeral.TryAgree(remoteEphemeral, dh))
            throw new HandshakeFailedException(HandshakeFailure.LowOrderPoint,
                "X25519 with the remote's ephemeral key is all zeros (low-order point)");
        DhSecret = dh;
        Challenge = ComputeChallenge(LowerEphemeralKey, UpperEphemeralKey, dh);
        var (recv, send) = DeriveSecrets(dh, LocIsLeast);
        RecvKey = recv;
        SendKey = send;
        _sealer = new FrameSealer(send);
        _opener = new FrameOpener(recv);

        var signature = _localKey.Sign(Challenge);
        var authSig = new AuthSigMessage
        {
            PubKey = new PublicKey { Ed25519 = ByteString.CopyFrom(_localKey.PublicKey) },
            Sig = ByteString.CopyFrom(signature),
        };
        _sealer.Seal(LengthDelimited.Encode(authSig), output);
        _state = State.AwaitingAuthSig;
    }

    private void TryCompleteAuth()
    {
        var plaintext = _plaintext.WrittenSpan;
        if (!LengthDelimited.TryFrame(plaintext, MaxHandshakeMessageSize, out var prefix, out var length))
            return;
        var message = LengthDelimited.Parse(AuthSigMessage.Parser, plaintext.Slice(prefix, length));
        if (message.PubKey is null || message.PubKey.SumCase != PublicKey.SumOneofCase.Ed25519)
            throw new HandshakeFailedException(HandshakeFailure.NotEd25519Key,
                $"the remote authenticates with {(message.PubKey is null ? "no key" : message.PubKey.SumCase.ToString())}, only Ed25519 is accepted");
        var remoteKey = message.PubKey.Ed25519.Span;
        if (remoteKey.Length != NodeKey.PublicKeyLength)
            throw new HandshakeFailedException(HandshakeFailure.NotEd25519Key,
                $"the remote's Ed25519 key has {remoteKey.Length} bytes, expected 32");
        if (message.Sig.IsEmpty)
            throw new HandshakeFailedException(HandshakeFailure.MissingSignature, "the remote sent no signature");
        if (!NodeKey.Verify(remoteKey, Challenge, message.Sig.Span))
            throw new HandshakeFailedException(HandshakeFailure.BadSignature, "the remote's signature does not verify over our challenge");
        var remoteId = NodeId.FromPublicKey(remoteKey);
        if (_expectedRemoteId is { } expected && expected != remoteId)
            throw new HandshakeFailedException(HandshakeFailure.DialledIdMismatch,
                $"dialled {expected} but the remote authenticated as {remoteId}");

        var leftover = plaintext[(prefix + length)..].ToArray();
        Session = new SecretConnectionSession(_sealer!, _opener!, remoteKey.ToArray(), remoteId, leftover);
        _plaintext = new ArrayBufferWriter<byte>(1);
        _state = State.Complete;
    }

    private void Fail()
    {
        _state = State.Failed;
        _sealer?.Dispose();
        _opener?.Dispose();
    }

    /// <summary>HKDF-SHA256(dh, no salt, info) → 96 bytes; recv/send keys by <paramref name="locIsLeast"/>.</summary>
    public static (byte[] RecvKey, byte[] SendKey) DeriveSecrets(ReadOnlySpan<byte> dhSecret, bool locIsLeast)
    {
        Span<byte> okm = stackalloc byte[96];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, dhSecret, okm, ReadOnlySpan<byte>.Empty, HkdfInfo);
        var first = okm[..32].ToArray();
        var second = okm[32..64].ToArray();
        CryptographicOperations.ZeroMemory(okm);
        return locIsLeast ? (first, second) : (second, first);
    }

    /// <summary>The Merlin challenge both sides sign: transcript of lo, hi and the DH secret.</summary>
    public static byte[] ComputeChallenge(ReadOnlySpan<byte> lowerEphemeral, ReadOnlySpan<byte> upperEphemeral, ReadOnlySpan<byte> dhSecret)
    {
        var transcript = new MerlinTranscript(TranscriptLabel);
        transcript.AppendMessage("EPHEMERAL_LOWER_PUBLIC_KEY"u8, lowerEphemeral);
        transcript.AppendMessage("EPHEMERAL_UPPER_PUBLIC_KEY"u8, upperEphemeral);
        transcript.AppendMessage("DH_SECRET"u8, dhSecret);
        var challenge = new byte[32];
        transcript.ChallengeBytes("SECRET_CONNECTION_MAC"u8, challenge);
        return challenge;
    }

    public void Dispose()
    {
        if (_ownsEphemeral) _ephemeral.Dispose();
        if (_state != State.Complete) Fail();
    }
}

/// <summary>
/// An authenticated SecretConnection after its handshake: seals what we send, opens what we receive, and knows
/// the remote's key. Plaintext that arrived with the handshake waits in <see cref="TakePendingPlaintext"/>.
/// </summary>
public sealed class SecretConnectionSession : IDisposable
{
    private readonly PlaintextBuffer _pending = new();

    internal SecretConnectionSession(FrameSealer sealer, FrameOpener opener, byte[] remotePublicKey, NodeId remoteId, byte[] pendingPlaintext)
    {
        Sealer = sealer;
        Opener = opener;
        RemotePublicKey = remotePublicKey;
        RemoteId = remoteId;
        if (pendingPlaintext.Length > 0)
            _pending.Write(pendingPlaintext);
    }

    public FrameSealer Sealer { get; }
    public FrameOpener Opener { get; }
    public byte[] RemotePublicKey { get; }
    public NodeId RemoteId { get; }

    /// <summary>Opens ciphertext into the pending plaintext.</summary>
    public void Open(ReadOnlySpan<byte> ciphertext)
    {
        // Room for every frame this completes at once, so the buffer grows (and copies) at most once per call.
        _pending.Reserve((Opener.PendingBytes + ciphertext.Length) / Frame.SealedSize * Frame.DataMaxSize);
        Opener.Open(ciphertext, _pending);
        _pending.ReleaseIfEmpty(); // only a partial frame (or empty ones) came: nothing to hold the array for
    }

    public int PendingPlaintextLength => _pending.Count;

    public ReadOnlySpan<byte> PendingPlaintext => _pending.Span;

    /// <summary>Drops the first <paramref name="count"/> pending plaintext bytes (moves a read offset; no copy).</summary>
    public void ConsumePlaintext(int count) => _pending.Consume(count);

    public byte[] TakePendingPlaintext()
    {
        var result = _pending.Span.ToArray();
        _pending.Consume(result.Length);
        return result;
    }

    /// <summary>
    /// Gives away the array holding the pending plaintext (the caller owns it from now on; it is not written again)
    /// and empties the pending plaintext: the zero-copy form of <see cref="TakePendingPlaintext"/>.
    /// </summary>
    public (byte[] Array, int Offset, int Count) DetachPendingPlaintext() => _pending.Detach();

    /// <summary>
    /// Where the pending plaintext lies, without taking it: the range stays as it is until
    /// <see cref="ConsumePlaintext"/>. The caller must not <see cref="Open"/> while it still reads the range: a frame
    /// is opened over the last 4 pending bytes for a moment (they are put back before Open returns).
    /// </summary>
    internal (byte[] Array, int Offset, int Count) PeekPendingPlaintext() => _pending.Peek();

    public void Dispose()
    {
        Sealer.Dispose();
        Opener.Dispose();
    }
}

/// <summary>
/// Opened plaintext waiting for the application: an array with a read offset, so consuming a prefix copies nothing,
/// and which can be handed away whole (<see cref="Detach"/>) instead of copied out. The array is rented from the
/// shared pool while plaintext is pending and given back once all of it is consumed, so an idle connection holds none.
/// </summary>
internal sealed class PlaintextBuffer : IBufferWriter<byte>
{
    private const int MinimumCapacity = 4096;

    /// <summary>
    /// Where data starts in a fresh or emptied array: room for the length of a frame opened in place
    /// (<see cref="TryGetSpanOverlappingEnd"/>), so the first frame of a read is opened in place too.
    /// </summary>
    private const int Headroom = Frame.LengthSize;
    private byte[] _buffer = [];
    private int _start;
    private int _end;

    public int Count => _end - _start;

    /// <summary>The array held, pending bytes or not (for specs).</summary>
    internal int Capacity => _buffer.Length;

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(_start, _end - _start);

    public void Consume(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        _start += count;
        if (_start == _end)
            Release();
    }

    public void ReleaseIfEmpty()
    {
        if (_start == _end)
            Release();
    }

    /// <summary>Everything is consumed: whoever read the bytes is done with them, so the array goes back.</summary>
    private void Release()
    {
        if (_buffer.Length > 0)
            ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _start = _end = 0;
    }

    public (byte[] Array, int Offset, int Count) Peek() => (_buffer, _start, Count);

    public (byte[] Array, int Offset, int Count) Detach()
    {
        var detached = (_buffer, _start, Count);
        _buffer = [];
        _start = _end = 0;
        return detached;
    }

    /// <summary>Makes room for <paramref name="size"/> more bytes after what is pending.</summary>
    public void Reserve(int size)
    {
        if (_buffer.Length - _end >= size) return;
        var count = Count;
        if (_buffer.Length - Headroom - count >= size && _start > Headroom)
        {
            _buffer.AsSpan(_start, count).CopyTo(_buffer.AsSpan(Headroom));
        }
        else
        {
            // Not zeroed (pooled): only the written range is ever read or handed out.
            var grown = ArrayPool<byte>.Shared.Rent(
                Math.Max(MinimumCapacity, Math.Max(Headroom + count + size, _buffer.Length * 2)));
            _buffer.AsSpan(_start, count).CopyTo(grown.AsSpan(Headroom));
            if (_buffer.Length > 0)
                ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = grown;
        }
        _start = Headroom;
        _end = Headroom + count;
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Advance(bytes.Length);
    }

    public void Advance(int count) => _end += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(Math.Max(1, sizeHint));
        return _buffer.AsMemory(_end);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(Math.Max(1, sizeHint));
        return _buffer.AsSpan(_end);
    }

    /// <summary>
    /// A span of <paramref name="overlap"/> + <paramref name="size"/> bytes that starts <paramref name="overlap"/>
    /// bytes before the end of what is pending (those bytes belong to the pending data or were consumed); false when
    /// the end is too close to the start of the array. The caller must put back the overlapped bytes before anyone
    /// reads the pending data, and <see cref="Advance"/> by what it wrote after them.
    /// </summary>
    public bool TryGetSpanOverlappingEnd(int overlap, int size, out Span<byte> span)
    {
        Reserve(size);
        if (_end < overlap)
        {
            span = default;
            return false;
        }
        span = _buffer.AsSpan(_end - overlap, overlap + size);
        return true;
    }
}
