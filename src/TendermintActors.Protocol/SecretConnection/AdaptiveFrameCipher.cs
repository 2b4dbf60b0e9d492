namespace TendermintActors.Protocol.SecretConnection;

/// <summary>
/// libsodium for a connection's small batches, OpenSSL's libcrypto for its bulk ones: the same cipher, so the frames
/// are the same bytes either way. libsodium keeps no state but the key; OpenSSL is ~15 % faster per 1028-byte frame
/// once it holds a context (docs/performance.md), which costs native memory for as long as it is held. An idle or
/// quiet connection (pings, votes, PEX) therefore never holds one, and a connection moving bulk data holds one while
/// it does: a batch of <see cref="BulkFrames"/> frames or more takes or keeps the context, and
/// <see cref="SmallBatchesBeforeRelease"/> small batches in a row let it go. No clock: the batches alone decide,
/// so the rule runs the same in tests as on the wire.
/// </summary>
internal sealed class AdaptiveFrameCipher : FrameCipher
{
    /// <summary>The smallest batch that counts as bulk: 32 frames, 32 KiB of data. Above what quiet traffic sends at once
    /// (a PEX reply of 250 addresses is ~16 KiB), below what a transfer does (64 KiB batches under load).</summary>
    public const int BulkFrames = 32;

    /// <summary>Small batches in a row after which the bulk context goes; a bulk transfer interleaved with small
    /// messages keeps it, a transfer that has ended gives it back.</summary>
    public const int SmallBatchesBeforeRelease = 16;

    private readonly SodiumFrameCipher _small;
    private OpenSslFrameCipher? _bulk;
    private int _smallBatches;

    public AdaptiveFrameCipher(ReadOnlySpan<byte> key) => _small = new SodiumFrameCipher(key);

    /// <summary>Whether the OpenSSL context is held now.</summary>
    public bool HoldsBulkContext => _bulk is not null;

    public override void BeginBatch(int frames)
    {
        if (frames >= BulkFrames)
        {
            _bulk ??= TryOpenSsl(_small.Key);
            _smallBatches = 0;
        }
        else if (_bulk is not null && ++_smallBatches >= SmallBatchesBeforeRelease)
        {
            _bulk.Dispose();
            _bulk = null;
            _smallBatches = 0;
        }
    }

    /// <summary>An OpenSSL context for the key, or none when libcrypto refuses one: libsodium carries on alone.</summary>
    private static OpenSslFrameCipher? TryOpenSsl(ReadOnlySpan<byte> key)
    {
        try
        {
            return new OpenSslFrameCipher(key);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or PlatformNotSupportedException)
        {
            return null;
        }
    }

    public override void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> sealedOutput)
    {
        if (_bulk is { } bulk)
            bulk.Seal(nonce, plaintext, sealedOutput);
        else
            _small.Seal(nonce, plaintext, sealedOutput);
    }

    public override bool Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedInput, Span<byte> plaintext) =>
        _bulk is { } bulk ? bulk.Open(nonce, sealedInput, plaintext) : _small.Open(nonce, sealedInput, plaintext);

    public override void Dispose()
    {
        _bulk?.Dispose();
        _bulk = null;
        _small.Dispose();
    }
}
