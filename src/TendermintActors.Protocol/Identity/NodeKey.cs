using NSec.Cryptography;

namespace TendermintActors.Protocol.Identity;

/// <summary>
/// A node's long-term Ed25519 key. Holds the NSec key (for signing) and the 32-byte public key; the 64-byte
/// Go/NaCl form (seed ‖ public key) is what node_key.json stores.
/// </summary>
public sealed class NodeKey : IDisposable
{
    public const int SeedLength = 32;
    public const int PublicKeyLength = 32;
    public const int GoPrivateKeyLength = 64;
    public const int SignatureLength = 64;

    private static readonly SignatureAlgorithm Ed25519 = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private NodeKey(Key key)
    {
        _key = key;
        PublicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        Id = NodeId.FromPublicKey(PublicKey);
    }

    /// <summary>The raw 32-byte Ed25519 public key.</summary>
    public byte[] PublicKey { get; }

    public NodeId Id { get; }

    public static NodeKey Generate() =>
        new(Key.Create(Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>Builds the key from its 32-byte seed.</summary>
    public static NodeKey FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != SeedLength)
            throw new ArgumentException($"an Ed25519 seed has {SeedLength} bytes, not {seed.Length}", nameof(seed));
        return new NodeKey(Key.Import(Ed25519, seed, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));
    }

    /// <summary>
    /// Builds the key from Go's 64-byte form (seed ‖ public key), checking that the stored public key is the one
    /// the seed gives (a mismatch means a corrupt or hand-edited file).
    /// </summary>
    public static NodeKey FromGoPrivateKey(ReadOnlySpan<byte> goPrivateKey)
    {
        if (goPrivateKey.Length != GoPrivateKeyLength)
            throw new FormatException($"an Ed25519 private key has {GoPrivateKeyLength} bytes (seed and public key), not {goPrivateKey.Length}");
        var key = FromSeed(goPrivateKey[..SeedLength]);
        if (!goPrivateKey[SeedLength..].SequenceEqual(key.PublicKey))
        {
            key.Dispose();
            throw new FormatException("the private key's last 32 bytes are not the public key of its seed");
        }
        return key;
    }

    /// <summary>The 64-byte Go/NaCl form: seed followed by public key.</summary>
    public byte[] ToGoPrivateKey()
    {
        var result = new byte[GoPrivateKeyLength];
        _key.Export(KeyBlobFormat.RawPrivateKey).CopyTo(result, 0);
        PublicKey.CopyTo(result, SeedLength);
        return result;
    }

    public byte[] Sign(ReadOnlySpan<byte> message) => Ed25519.Sign(_key, message);

    public void Sign(ReadOnlySpan<byte> message, Span<byte> signature) => Ed25519.Sign(_key, message, signature);

    /// <summary>Verifies an Ed25519 signature by a raw 32-byte public key.</summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != PublicKeyLength || signature.Length != SignatureLength)
            return false;
        if (!NSec.Cryptography.PublicKey.TryImport(Ed25519, publicKey, KeyBlobFormat.RawPublicKey, out var key) || key is null)
            return false;
        return Ed25519.Verify(key, message, signature);
    }

    public void Dispose() => _key.Dispose();

    public override string ToString() => $"NodeKey({Id})";
}
