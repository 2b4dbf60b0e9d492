using System.Buffers.Binary;
using System.Numerics;

namespace TendermintActors.Protocol.Crypto;

/// <summary>The Keccak-f[1600] permutation over a 200-byte state (lanes little-endian), as STROBE uses it.</summary>
internal static class KeccakF1600
{
    private static readonly ulong[] RoundConstants =
    [
        0x0000000000000001UL, 0x0000000000008082UL, 0x800000000000808aUL, 0x8000000080008000UL,
        0x000000000000808bUL, 0x0000000080000001UL, 0x8000000080008081UL, 0x8000000000008009UL,
        0x000000000000008aUL, 0x0000000000000088UL, 0x0000000080008009UL, 0x000000008000000aUL,
        0x000000008000808bUL, 0x800000000000008bUL, 0x8000000000008089UL, 0x8000000000008003UL,
        0x8000000000008002UL, 0x8000000000000080UL, 0x000000000000800aUL, 0x800000008000000aUL,
        0x8000000080008081UL, 0x8000000000008080UL, 0x0000000080000001UL, 0x8000000080008008UL,
    ];

    // Rho rotation offsets and Pi lane order, walked along the Pi cycle starting at lane 1.
    private static readonly int[] Rho = [1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44];
    private static readonly int[] Pi = [10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1];

    public static void Permute(Span<byte> state)
    {
        Span<ulong> a = stackalloc ulong[25];
        for (var i = 0; i < 25; i++)
            a[i] = BinaryPrimitives.ReadUInt64LittleEndian(state.Slice(i * 8, 8));
        Permute(a);
        for (var i = 0; i < 25; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(state.Slice(i * 8, 8), a[i]);
    }

    private static void Permute(Span<ulong> a)
    {
        Span<ulong> c = stackalloc ulong[5];
        for (var round = 0; round < 24; round++)
        {
            // θ
            for (var x = 0; x < 5; x++)
                c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
            for (var x = 0; x < 5; x++)
            {
                var d = c[(x + 4) % 5] ^ BitOperations.RotateLeft(c[(x + 1) % 5], 1);
                for (var y = 0; y < 25; y += 5)
                    a[y + x] ^= d;
            }
            // ρ and π
            var current = a[1];
            for (var i = 0; i < 24; i++)
            {
                var j = Pi[i];
                var next = a[j];
                a[j] = BitOperations.RotateLeft(current, Rho[i]);
                current = next;
            }
            // χ
            for (var y = 0; y < 25; y += 5)
            {
                for (var x = 0; x < 5; x++)
                    c[x] = a[y + x];
                for (var x = 0; x < 5; x++)
                    a[y + x] = c[x] ^ (~c[(x + 1) % 5] & c[(x + 2) % 5]);
            }
            // ι
            a[0] ^= RoundConstants[round];
        }
    }
}
