using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace TendermintActors.Protocol.SecretConnection;

/// <summary>
/// ChaCha20-Poly1305 through OpenSSL's libcrypto EVP interface, called directly. One EVP_CIPHER_CTX holds the key for
/// the cipher's life; each frame only sets the nonce, runs the cipher and takes or checks the tag, which is the setup
/// the BCL's wrapper repeats for every call. Not thread-safe: an instance serves one direction of one connection (a
/// <see cref="FrameSealer"/> or a <see cref="FrameOpener"/>), called from one thread at a time.
/// </summary>
/// <remarks>
/// Pointers rather than spans at the boundary because NULL means something to OpenSSL: a NULL key keeps the key already
/// set, and EVP_CipherUpdate with a NULL output takes its input as associated data. OpenSSL reads and writes as many
/// bytes as the lengths say, so every length is checked here before a pointer crosses.
/// </remarks>
internal sealed unsafe class OpenSslFrameCipher : FrameCipher
{
    private const int Decrypt = 0;
    private const int Encrypt = 1;

    private readonly SafeEvpCipherContextHandle _context;

    public OpenSslFrameCipher(ReadOnlySpan<byte> key)
    {
        if (!IsAvailable)
            throw new PlatformNotSupportedException("OpenSSL's libcrypto (3 or 1.1) is not available");
        if (key.Length != KeySize)
            throw new ArgumentException($"a ChaCha20-Poly1305 key has {KeySize} bytes", nameof(key));
        _context = LibCrypto.EVP_CIPHER_CTX_new();
        try
        {
            if (_context.IsInvalid)
                throw Failure(nameof(LibCrypto.EVP_CIPHER_CTX_new));
            using var context = new ContextReference(_context);
            fixed (byte* k = key)
                Check(LibCrypto.EVP_CipherInit_ex(context.Pointer, LibCrypto.EVP_chacha20_poly1305(), 0, k, null, Encrypt),
                    nameof(LibCrypto.EVP_CipherInit_ex));
        }
        catch
        {
            _context.Dispose();
            throw;
        }
    }

    /// <summary>Whether libcrypto loaded and can initialise ChaCha20-Poly1305; when not, <see cref="FrameCipher.Create"/> uses NSec.</summary>
    public static bool IsAvailable => LibCrypto.IsAvailable;

    public override void Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> sealedOutput)
    {
        var length = CheckSeal(nonce, plaintext, sealedOutput);
        using var context = new ContextReference(_context);
        fixed (byte* n = nonce, p = plaintext, s = sealedOutput)
        {
            Check(LibCrypto.EVP_CipherInit_ex(context.Pointer, 0, 0, null, n, Encrypt), nameof(LibCrypto.EVP_CipherInit_ex));
            var written = 0;
            if (length > 0)
                Check(LibCrypto.EVP_CipherUpdate(context.Pointer, s, &written, p, length), nameof(LibCrypto.EVP_CipherUpdate));
            var finalWritten = 0;
            Check(LibCrypto.EVP_CipherFinal_ex(context.Pointer, s + written, &finalWritten), nameof(LibCrypto.EVP_CipherFinal_ex));
            if (written + finalWritten != length)
                throw new CryptographicException($"OpenSSL wrote {written + finalWritten} bytes of ciphertext for {length} of plaintext");
            Check(LibCrypto.EVP_CIPHER_CTX_ctrl(context.Pointer, LibCrypto.EVP_CTRL_AEAD_GET_TAG, TagSize, s + length),
                nameof(LibCrypto.EVP_CIPHER_CTX_ctrl));
        }
    }

    public override bool Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedInput, Span<byte> plaintext)
    {
        var length = CheckOpen(nonce, sealedInput, plaintext);
        plaintext = plaintext[..length];
        var authentic = false;
        try
        {
            using var context = new ContextReference(_context);
            fixed (byte* n = nonce, s = sealedInput, p = plaintext)
            {
                Check(LibCrypto.EVP_CipherInit_ex(context.Pointer, 0, 0, null, n, Decrypt), nameof(LibCrypto.EVP_CipherInit_ex));
                var written = 0;
                if (length > 0)
                    Check(LibCrypto.EVP_CipherUpdate(context.Pointer, p, &written, s, length), nameof(LibCrypto.EVP_CipherUpdate));
                Check(LibCrypto.EVP_CIPHER_CTX_ctrl(context.Pointer, LibCrypto.EVP_CTRL_AEAD_SET_TAG, TagSize, s + length),
                    nameof(LibCrypto.EVP_CIPHER_CTX_ctrl));
                // For this cipher the final step fails only when the tag does not verify.
                var finalWritten = 0;
                authentic = LibCrypto.EVP_CipherFinal_ex(context.Pointer, p + written, &finalWritten) == 1
                    && written + finalWritten == length;
            }
        }
        finally
        {
            // Decrypted bytes are not to be read unless the tag verified, whatever the caller does with false.
            if (!authentic)
                plaintext.Clear();
        }
        if (!authentic)
            LibCrypto.ERR_clear_error();
        return authentic;
    }

    public override void Dispose() => _context.Dispose();

    private static void Check(int result, string function)
    {
        if (result != 1)
            throw Failure(function);
    }

    private static CryptographicException Failure(string function)
    {
        // Take the reason off this thread's OpenSSL error queue and leave the queue empty for the next caller (the
        // BCL's own OpenSSL calls share it).
        var error = LibCrypto.ERR_get_error().Value;
        LibCrypto.ERR_clear_error();
        return new CryptographicException($"OpenSSL {function} failed (error 0x{error:x})");
    }

    /// <summary>
    /// Holds the context handle against release for one frame, so the four calls in between take the raw pointer
    /// instead of marshalling the SafeHandle (two interlocked operations each) one by one.
    /// </summary>
    private readonly ref struct ContextReference
    {
        private readonly SafeEvpCipherContextHandle _handle;

        public ContextReference(SafeEvpCipherContextHandle handle)
        {
            var added = false;
            handle.DangerousAddRef(ref added);
            _handle = handle;
            Pointer = handle.DangerousGetHandle();
        }

        public nint Pointer { get; }

        public void Dispose() => _handle.DangerousRelease();
    }
}

/// <summary>Owns an EVP_CIPHER_CTX; freeing it also wipes the key schedule it holds.</summary>
internal sealed class SafeEvpCipherContextHandle : SafeHandle
{
    public SafeEvpCipherContextHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LibCrypto.EVP_CIPHER_CTX_free(handle);
        return true;
    }
}

/// <summary>
/// The libcrypto functions <see cref="OpenSslFrameCipher"/> calls, bound to libcrypto 3 or, failing that, 1.1 (the
/// same signatures in both), on Linux only.
/// </summary>
internal static unsafe partial class LibCrypto
{
    public const int EVP_CTRL_AEAD_GET_TAG = 0x10;
    public const int EVP_CTRL_AEAD_SET_TAG = 0x11;

    /// <summary>A name for the resolver below to map to the library that loaded; the default probing never sees it.</summary>
    private const string Library = "libcrypto";

    private static readonly string[] Versions = ["libcrypto.so.3", "libcrypto.so.1.1"];

    static LibCrypto()
    {
        if (!OperatingSystem.IsLinux())
            return;
        nint library = 0;
        foreach (var version in Versions)
            if (NativeLibrary.TryLoad(version, out library))
                break;
        if (library == 0)
            return;
        string[] functions =
        [
            nameof(EVP_CIPHER_CTX_new), nameof(EVP_CIPHER_CTX_free), nameof(EVP_chacha20_poly1305), nameof(EVP_CipherInit_ex),
            nameof(EVP_CipherUpdate), nameof(EVP_CipherFinal_ex), nameof(EVP_CIPHER_CTX_ctrl), nameof(ERR_get_error),
            nameof(ERR_clear_error),
        ];
        if (!functions.All(function => NativeLibrary.TryGetExport(library, function, out _)))
            return;
        // The only resolver in this assembly (a second registration would throw); it answers for Library alone.
        NativeLibrary.SetDllImportResolver(typeof(LibCrypto).Assembly,
            (name, _, _) => name == Library ? library : 0);
        IsAvailable = CanInitialiseChaCha20Poly1305();
    }

    public static bool IsAvailable { get; }

    /// <summary>A build without ChaCha20-Poly1305 or a FIPS-only configuration fails here rather than on a connection.</summary>
    private static bool CanInitialiseChaCha20Poly1305()
    {
        var key = stackalloc byte[32];
        var context = EVP_CIPHER_CTX_new();
        using (context)
        {
            var cipher = EVP_chacha20_poly1305();
            var initialised = !context.IsInvalid && cipher != 0
                && EVP_CipherInit_ex(context.DangerousGetHandle(), cipher, 0, key, null, 1) == 1;
            ERR_clear_error();
            return initialised;
        }
    }

    [LibraryImport(Library)]
    public static partial SafeEvpCipherContextHandle EVP_CIPHER_CTX_new();

    [LibraryImport(Library)]
    public static partial void EVP_CIPHER_CTX_free(nint context);

    [LibraryImport(Library)]
    public static partial nint EVP_chacha20_poly1305();

    [LibraryImport(Library)]
    public static partial int EVP_CipherInit_ex(nint context, nint cipher, nint engine, byte* key, byte* iv, int enc);

    [LibraryImport(Library)]
    public static partial int EVP_CipherUpdate(nint context, byte* output, int* outputLength, byte* input, int inputLength);

    [LibraryImport(Library)]
    public static partial int EVP_CipherFinal_ex(nint context, byte* output, int* outputLength);

    [LibraryImport(Library)]
    public static partial int EVP_CIPHER_CTX_ctrl(nint context, int type, int arg, void* pointer);

    [LibraryImport(Library)]
    public static partial CULong ERR_get_error();

    [LibraryImport(Library)]
    public static partial void ERR_clear_error();
}
