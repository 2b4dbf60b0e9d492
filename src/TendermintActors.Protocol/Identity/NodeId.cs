using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace TendermintActors.Protocol.Identity;

/// <summary>
/// A node ID: lowercase hex of the first 20 bytes of SHA-256 over the node's 32-byte Ed25519 public key.
/// Always held and printed in lowercase, because Go compares IDs as strings.
/// </summary>
public readonly record struct NodeId
{
    public const int ByteLength = 20;
    public const int HexLength = 40;

    private readonly string? _hex;

    private NodeId(string hex) => _hex = hex;

    /// <summary>The 40 lowercase hex characters (empty for <c>default</c>).</summary>
    public string Hex => _hex ?? string.Empty;

    public bool IsEmpty => _hex is null;

    public static NodeId FromPublicKey(ReadOnlySpan<byte> ed25519PublicKey)
    {
        if (ed25519PublicKey.Length != 32)
            throw new ArgumentException($"an Ed25519 public key has 32 bytes, not {ed25519PublicKey.Length}", nameof(ed25519PublicKey));
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(ed25519PublicKey, hash);
        return new NodeId(Convert.ToHexStringLower(hash[..ByteLength]));
    }

    /// <summary>Parses 40 hex characters (either case; stored lowercase). Error says what is wrong.</summary>
    public static bool TryParse(string? text, out NodeId id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        if (string.IsNullOrEmpty(text))
        {
            error = "node ID is empty";
            return false;
        }
        if (text.Length != HexLength)
        {
            error = $"node ID '{text}' has {text.Length} characters, expected {HexLength} hex characters";
            return false;
        }
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                error = $"node ID '{text}' contains '{c}', which is not a hex digit";
                return false;
            }
        }
        id = new NodeId(text.ToLowerInvariant());
        error = null;
        return true;
    }

    public static NodeId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new FormatException(error);

    public override string ToString() => Hex;
}
