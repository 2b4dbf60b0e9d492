using System.Security.Cryptography;
using NSec.Cryptography;

namespace TendermintActors.Protocol.SecretConnection;

/// <summary>A one-connection X25519 key pair (docs/protocol.md §3 step 1).</summary>
public sealed class EphemeralKeyPair : IDisposable
{
    private static readonly KeyAgreementAlgorithm X25519 = KeyAgreementAlgorithm.X25519;
    private readonly Key _key;

    private EphemeralKeyPair(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    public byte[] PublicKey { get; }

    public static EphemeralKeyPair Generate() => new(Key.Create(X25519));

    /// <summary>From 32 raw private bytes (X25519 clamps them itself, as Go's box.GenerateKey leaves them unclamped).</summary>
    public static EphemeralKeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey) =>
        new(Key.Import(X25519, privateKey, KeyBlobFormat.RawPrivateKey));

    /// <summary>
    /// X25519(our private, their public). Returns false when the result would be all zeros (the remote sent a
    /// low-order point): libsodium refuses to produce it, and we must refuse the connection anyway.
    /// </summary>
    public bool TryAgree(ReadOnlySpan<byte> remotePublicKey, Span<byte> sharedSecret)
    {
        if (!NSec.Cryptography.PublicKey.TryImport(X25519, remotePublicKey, KeyBlobFormat.RawPublicKey, out var remote) || remote is null)
            return false;
        SharedSecret? secret;
        try
        {
            secret = X25519.Agree(_key, remote, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        }
        catch (CryptographicException)
        {
            return false;
        }
        if (secret is null)
            return false;
        using (secret)
        {
            if (!secret.TryExport(SharedSecretBlobFormat.RawSharedSecret, sharedSecret, out var written) || written != 32)
                return false;
        }
        // Belt and braces: whatever the library does, an all-zero secret never becomes a key.
        return !sharedSecret[..32].IndexOfAnyExcept((byte)0).Equals(-1);
    }

    public void Dispose() => _key.Dispose();
}
