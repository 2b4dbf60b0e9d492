using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace TendermintActors.Protocol.SecretConnection;

/// <summary>
/// ChaCha20-Poly1305 (IETF, 96-bit nonce) through libsodium, called directly: the key is the only state, 32 bytes
/// in this object, and every frame is one call. NSec's own keys live in libsodium's guarded allocations (a few pages
/// each, held for the connection's life), and OpenSSL's contexts in the C heap; this cipher holds neither, which is
/// what an idle connection should cost. Not thread-safe in the sense that one instance serves one direction of one
/// connection (a <see cref="FrameSealer"/> or a <see cref="FrameOpener"/>), called from one thread at a time.
/// </summary>
internal sealed unsafe partial class SodiumFrameCipher : FrameCipher
{
    private readonly byte[] _key = new byte[KeySize];
    private bool _disposed;

    static SodiumFrameCipher()
    {
        // Picks the fastest implementation for this CPU; safe to call more than once, and from any thread (NSec calls it too).
        if (sodium_init() < 0)
            throw new CryptographicException("libsodium could not be initialised");
    }

    public SodiumFrameCipher(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
            throw new ArgumentException($"a ChaCha20-Poly1305 key has {KeySize} bytes", nameof(key));
        key.CopyTo(_key);
    }

    public override void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> sealedOutput)
    {
        ObjectDisposedException.ThrowIf(_disposed, this); // the key is zeros by then: nothing may be sealed with it
        var length = CheckSeal(nonce, plaintext, sealedOutput);
        fixed (byte* n = nonce, p = plaintext, s = sealedOutput, k = _key)
        {
            if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(s, s + length, null, p, (ulong)length, null, 0, null, n, k) != 0)
                throw new CryptographicException("libsodium could not seal a frame");
        }
    }

    public override bool Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedInput, Span<byte> plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var length = CheckOpen(nonce, sealedInput, plaintext);
        fixed (byte* n = nonce, s = sealedInput, p = plaintext, k = _key)
        {
            // libsodium checks the tag before it decrypts, and clears the output when it does not verify; the
            // ciphertext and the plaintext may be the same bytes (opening in place).
            return crypto_aead_chacha20poly1305_ietf_decrypt_detached(p, null, s, (ulong)length, s + length, null, 0, n, k) == 0;
        }
    }

    /// <summary>The key, for a cipher that opens a second engine on it (<see cref="AdaptiveFrameCipher"/>).</summary>
    public ReadOnlySpan<byte> Key
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _key;
        }
    }

    public override void Dispose()
    {
        _disposed = true;
        CryptographicOperations.ZeroMemory(_key);
    }

    // The library NSec ships and loads (the libsodium package's native asset).
    private const string Library = "libsodium";

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        byte* c, byte* mac, ulong* maclen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    private static partial int crypto_aead_chacha20poly1305_ietf_decrypt_detached(
        byte* m, byte* nsec, byte* c, ulong clen, byte* mac, byte* ad, ulong adlen, byte* npub, byte* k);
}
