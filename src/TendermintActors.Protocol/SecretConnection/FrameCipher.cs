using System.Security.Cryptography;
using NSec.Cryptography;

namespace TendermintActors.Protocol.SecretConnection;

/// <summary>Which ChaCha20-Poly1305 implementation seals and opens frames.</summary>
public enum FrameCipherImplementation
{
    /// <summary>System.Security.Cryptography.ChaCha20Poly1305 (OpenSSL on Linux).</summary>
    Bcl,
    /// <summary>NSec (libsodium).</summary>
    NSec,
    /// <summary>OpenSSL's libcrypto (3 or 1.1) called directly, one context per direction held for the connection's
    /// life; Linux only, NSec elsewhere or when libcrypto is absent.</summary>
    OpenSsl,
    /// <summary>libsodium called directly, the key the only state (NSec's library, without NSec's guarded key memory).</summary>
    Sodium,
    /// <summary>libsodium for small batches of frames, OpenSSL's libcrypto (a context held only while bulk data moves)
    /// for large ones; libsodium alone where libcrypto is absent.</summary>
    Adaptive,
}

/// <summary>
/// ChaCha20-Poly1305 with no associated data over one direction's key. Several implementations sit behind it so the
/// benchmark can compare them; <see cref="Default"/> is the one that measured best for memory and throughput together
/// (see docs/performance.md).
/// An instance serves one direction and is called from one thread at a time.
/// </summary>
internal abstract class FrameCipher : IDisposable
{
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    /// <summary>
    /// The hot-path choice: <see cref="FrameCipherImplementation.Adaptive"/>, libsodium for small batches and OpenSSL
    /// called directly for bulk ones. Per 1028-byte frame OpenSSL measured fastest, then libsodium, then the BCL's
    /// wrapper around OpenSSL; but an OpenSSL context is native memory held for as long as the cipher lives, which an
    /// idle connection should not pay (docs/performance.md).
    /// </summary>
    /// <remarks>
    /// The environment variable <c>TENDERMINTACTORS_FRAME_CIPHER</c> (<c>adaptive</c>, <c>openssl</c>, <c>sodium</c>,
    /// <c>nsec</c> or <c>bcl</c>, read once
    /// at start) overrides the choice: for comparing them in place, or to step around a broken libcrypto.
    /// </remarks>
    public static FrameCipherImplementation Default => LazyDefault.Value;

    // Chosen on first use, not in a type initializer, so that a bad value surfaces as itself (naming the variable)
    // rather than as a TypeInitializationException. PublicationOnly: no lock, and a failure is not cached.
    private static readonly Lazy<FrameCipherImplementation> LazyDefault =
        new(() => ChooseDefault(Environment.GetEnvironmentVariable(DefaultVariable)), LazyThreadSafetyMode.PublicationOnly);

    public const string DefaultVariable = "TENDERMINTACTORS_FRAME_CIPHER";

    internal static FrameCipherImplementation ChooseDefault(string? setting) => setting?.Trim().ToLowerInvariant() switch
    {
        null or "" or "adaptive" => FrameCipherImplementation.Adaptive,
        "openssl" => FrameCipherImplementation.OpenSsl,
        "nsec" => FrameCipherImplementation.NSec,
        "bcl" => FrameCipherImplementation.Bcl,
        "sodium" => FrameCipherImplementation.Sodium,
        _ => throw new InvalidOperationException(
            $"{DefaultVariable}='{setting}' is not a frame cipher: use adaptive, openssl, sodium, nsec or bcl (or leave it unset)"),
    };

    public static FrameCipher Create(ReadOnlySpan<byte> key, FrameCipherImplementation? implementation = null) =>
        (implementation ?? Default) switch
        {
            FrameCipherImplementation.Bcl when System.Security.Cryptography.ChaCha20Poly1305.IsSupported => new BclFrameCipher(key),
            FrameCipherImplementation.OpenSsl when OpenSslFrameCipher.IsAvailable => new OpenSslFrameCipher(key),
            FrameCipherImplementation.Sodium => new SodiumFrameCipher(key),
            FrameCipherImplementation.Adaptive when OpenSslFrameCipher.IsAvailable => new AdaptiveFrameCipher(key),
            FrameCipherImplementation.Adaptive => new SodiumFrameCipher(key),
            _ => new NSecFrameCipher(key),
        };

    /// <summary>Writes plaintext.Length + 16 bytes (ciphertext then tag).</summary>
    public abstract void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> sealedOutput);

    /// <summary>Writes sealed.Length - 16 bytes; false when the tag does not verify.</summary>
    public abstract bool Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedInput, Span<byte> plaintext);

    /// <summary>The checks an engine that takes pointers makes before any crosses: the nonce's length, and room for
    /// the output. Returns the plaintext's length.</summary>
    protected static int CheckSeal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> sealedOutput)
    {
        CheckNonce(nonce);
        if (sealedOutput.Length < plaintext.Length + TagSize)
            throw new ArgumentException($"the sealed output needs {plaintext.Length + TagSize} bytes", nameof(sealedOutput));
        return plaintext.Length;
    }

    /// <inheritdoc cref="CheckSeal"/>
    protected static int CheckOpen(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedInput, Span<byte> plaintext)
    {
        CheckNonce(nonce);
        var length = sealedInput.Length - TagSize;
        if (length < 0)
            throw new ArgumentException($"a sealed input has at least the {TagSize}-byte tag", nameof(sealedInput));
        if (plaintext.Length < length)
            throw new ArgumentException($"the plaintext output needs {length} bytes", nameof(plaintext));
        return length;
    }

    private static void CheckNonce(ReadOnlySpan<byte> nonce)
    {
        if (nonce.Length != NonceSize)
            throw new ArgumentException($"a ChaCha20-Poly1305 nonce has {NonceSize} bytes", nameof(nonce));
    }

    /// <summary>
    /// Said before the frames of one call are sealed or opened: how many there are. An implementation may choose its
    /// engine by it (<see cref="AdaptiveFrameCipher"/>); the others ignore it.
    /// </summary>
    public virtual void BeginBatch(int frames) { }

    public abstract void Dispose();

    private sealed class BclFrameCipher(ReadOnlySpan<byte> key) : FrameCipher
    {
        private readonly System.Security.Cryptography.ChaCha20Poly1305 _aead = new(key);

        public override void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> sealedOutput) =>
            _aead.Encrypt(nonce, plaintext, sealedOutput[..plaintext.Length], sealedOutput.Slice(plaintext.Length, TagSize));

        public override bool Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedInput, Span<byte> plaintext)
        {
            var length = sealedInput.Length - TagSize;
            try
            {
                _aead.Decrypt(nonce, sealedInput[..length], sealedInput[length..], plaintext[..length]);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }
        }

        public override void Dispose() => _aead.Dispose();
    }

    private sealed class NSecFrameCipher : FrameCipher
    {
        private static readonly AeadAlgorithm Algorithm = AeadAlgorithm.ChaCha20Poly1305;
        private readonly Key _key;

        public NSecFrameCipher(ReadOnlySpan<byte> key) =>
            _key = Key.Import(Algorithm, key, KeyBlobFormat.RawSymmetricKey);

        public override void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> sealedOutput) =>
            Algorithm.Encrypt(_key, nonce, ReadOnlySpan<byte>.Empty, plaintext, sealedOutput[..(plaintext.Length + TagSize)]);

        public override bool Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedInput, Span<byte> plaintext) =>
            Algorithm.Decrypt(_key, nonce, ReadOnlySpan<byte>.Empty, sealedInput, plaintext[..(sealedInput.Length - TagSize)]);

        public override void Dispose() => _key.Dispose();
    }
}

/// <summary>Which ChaCha20-Poly1305 implementation new connections seal and open their frames with.</summary>
public static class FrameCiphers
{
    /// <summary>The environment variable that overrides the choice: <c>adaptive</c>, <c>openssl</c>, <c>sodium</c>,
    /// <c>nsec</c> or <c>bcl</c>.</summary>
    public const string Variable = FrameCipher.DefaultVariable;

    /// <summary>
    /// <see cref="FrameCipherImplementation.Adaptive"/> (libsodium alone where libcrypto does not load), unless
    /// <see cref="Variable"/> says otherwise. Throws
    /// <see cref="InvalidOperationException"/> naming the variable when it holds anything else (a process checks this
    /// at start; a connection would fail with the same error).
    /// </summary>
    public static FrameCipherImplementation Default => FrameCipher.Default;
}
