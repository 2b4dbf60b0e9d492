using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Protocol.Tests.SecretConnection;

/// <summary>A fact that needs OpenSSL's libcrypto, skipped (visibly) where it is absent: xunit 2 cannot skip at run time.</summary>
public sealed class OpenSslFactAttribute : FactAttribute
{
    public OpenSslFactAttribute()
    {
        if (!OpenSslFrameCipher.IsAvailable)
            Skip = "OpenSSL's libcrypto (3 or 1.1) is not available here";
    }
}

/// <inheritdoc cref="OpenSslFactAttribute"/>
public sealed class OpenSslTheoryAttribute : TheoryAttribute
{
    public OpenSslTheoryAttribute()
    {
        if (!OpenSslFrameCipher.IsAvailable)
            Skip = "OpenSSL's libcrypto (3 or 1.1) is not available here";
    }
}

public class FrameCipherTests
{
    private static readonly byte[] Key = Enumerable.Range(0, FrameCipher.KeySize).Select(i => (byte)(i * 7)).ToArray();

    [Fact]
    public void The_default_is_adaptive_and_OpenSsl_is_used_where_libcrypto_loads_with_libsodium_standing_in_elsewhere()
    {
        using (var cipher = FrameCipher.Create(Key, FrameCipherImplementation.OpenSsl))
            Assert.Equal(OpenSslFrameCipher.IsAvailable, cipher is OpenSslFrameCipher);
        using (var cipher = FrameCipher.Create(Key, FrameCipherImplementation.Adaptive))
            Assert.IsType(OpenSslFrameCipher.IsAvailable ? typeof(AdaptiveFrameCipher) : typeof(SodiumFrameCipher), cipher);
        Assert.Equal(FrameCipherImplementation.Adaptive, FrameCipher.ChooseDefault(null));

        // Where libcrypto 3 loads (Linux, where we build and measure), the OpenSSL path is the one the suite tests.
        if (OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libcrypto.so.3", out var library))
        {
            NativeLibrary.Free(library);
            Assert.True(OpenSslFrameCipher.IsAvailable);
        }
    }

    [Theory]
    [InlineData("openssl", FrameCipherImplementation.OpenSsl)]
    [InlineData(" NSec ", FrameCipherImplementation.NSec)]
    [InlineData("bcl", FrameCipherImplementation.Bcl)]
    [InlineData("sodium", FrameCipherImplementation.Sodium)]
    [InlineData("Adaptive", FrameCipherImplementation.Adaptive)]
    [InlineData("", FrameCipherImplementation.Adaptive)]
    public void The_environment_can_choose_the_default_cipher(string setting, FrameCipherImplementation expected) =>
        Assert.Equal(expected, FrameCipher.ChooseDefault(setting));

    [Fact]
    public void An_unknown_cipher_in_the_environment_is_refused_naming_the_variable()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FrameCipher.ChooseDefault("aes"));
        Assert.Contains("TENDERMINTACTORS_FRAME_CIPHER='aes'", error.Message);
    }

    /// <summary>The engines that take pointers (OpenSSL's libcrypto and libsodium, called directly).</summary>
    public static TheoryData<FrameCipherImplementation> Direct => [FrameCipherImplementation.OpenSsl, FrameCipherImplementation.Sodium];

    public static TheoryData<int, FrameCipherImplementation> FlippedBits()
    {
        var data = new TheoryData<int, FrameCipherImplementation>();
        // First and last ciphertext byte, first and last tag byte.
        foreach (var index in new[] { 0, Frame.PlainSize - 1, Frame.PlainSize, Frame.SealedSize - 1 })
            foreach (var implementation in Direct)
                data.Add(index, implementation);
        return data;
    }

    [OpenSslTheory]
    [MemberData(nameof(Direct))]
    public void An_engine_and_NSec_seal_alike_and_open_each_other_for_random_keys_nonces_and_lengths(FrameCipherImplementation implementation)
    {
        var random = new Random(1028); // fixed, so that a failure reproduces
        for (var k = 0; k < 100; k++)
        {
            var key = Bytes(random, FrameCipher.KeySize);
            using var engine = FrameCipher.Create(key, implementation);
            using var nsec = FrameCipher.Create(key, FrameCipherImplementation.NSec);
            // Several frames per key: OpenSSL's one context is re-keyed with a nonce per frame and turns from sealing to
            // opening and back. The first frames of each key are the edge lengths.
            for (var f = 0; f < 10; f++)
            {
                var length = f switch { 0 => 0, 1 => 1, 2 => Frame.PlainSize, _ => random.Next(Frame.PlainSize + 1) };
                var nonce = Bytes(random, FrameCipher.NonceSize);
                var plain = Bytes(random, length);
                var byEngine = new byte[length + FrameCipher.TagSize];
                var byNSec = new byte[length + FrameCipher.TagSize];
                engine.Seal(nonce, plain, byEngine);
                nsec.Seal(nonce, plain, byNSec);
                Assert.Equal(byNSec, byEngine);

                var opened = new byte[length];
                Assert.True(engine.Open(nonce, byNSec, opened), $"key {k} frame {f}: {implementation} opens NSec's frame");
                Assert.Equal(plain, opened);
                Array.Clear(opened);
                Assert.True(nsec.Open(nonce, byEngine, opened), $"key {k} frame {f}: NSec opens {implementation}'s frame");
                Assert.Equal(plain, opened);
            }
        }
    }

    [OpenSslTheory]
    [MemberData(nameof(FlippedBits))]
    public void An_engine_refuses_a_frame_with_a_flipped_bit_and_leaves_no_plaintext(int index, FrameCipherImplementation implementation)
    {
        using var cipher = FrameCipher.Create(Key, implementation);
        var nonce = RandomNumberGenerator.GetBytes(FrameCipher.NonceSize);
        var plain = RandomNumberGenerator.GetBytes(Frame.PlainSize);
        var frame = new byte[Frame.SealedSize];
        cipher.Seal(nonce, plain, frame);
        frame[index] ^= 0x10;

        var opened = Enumerable.Repeat((byte)0xAA, Frame.PlainSize).ToArray();
        Assert.False(cipher.Open(nonce, frame, opened));
        Assert.All(opened, b => Assert.Equal(0, b));

        // The same context opens the next good frame.
        frame[index] ^= 0x10;
        Assert.True(cipher.Open(nonce, frame, opened));
        Assert.Equal(plain, opened);
    }

    [OpenSslFact]
    public void OpenSsl_refuses_a_frame_under_another_nonce_or_key()
    {
        using var cipher = FrameCipher.Create(Key, FrameCipherImplementation.OpenSsl);
        using var otherKey = FrameCipher.Create(RandomNumberGenerator.GetBytes(FrameCipher.KeySize), FrameCipherImplementation.OpenSsl);
        var nonce = new byte[FrameCipher.NonceSize];
        var frame = new byte[Frame.SealedSize];
        cipher.Seal(nonce, new byte[Frame.PlainSize], frame);
        var opened = new byte[Frame.PlainSize];
        Assert.False(otherKey.Open(nonce, frame, opened));
        nonce[4] = 1;
        Assert.False(cipher.Open(nonce, frame, opened));
    }

    [OpenSslFact]
    public void A_tampered_frame_ends_the_connection_with_OpenSsl()
    {
        using var sealer = new FrameSealer(Key, FrameCipherImplementation.OpenSsl);
        using var opener = new FrameOpener(Key, FrameCipherImplementation.OpenSsl);
        var frame = new byte[Frame.SealedSize];
        sealer.SealFrame("data"u8, frame);
        frame[Frame.SealedSize - 1] ^= 1;
        var e = Assert.Throws<ProtocolViolationException>(() => opener.OpenFrame(frame));
        Assert.Equal(ProtocolViolation.FrameAuthenticationFailed, e.Reason);
    }

    [OpenSslTheory]
    [MemberData(nameof(Direct))]
    public void An_engine_checks_lengths_before_handing_pointers_to_its_library(FrameCipherImplementation implementation)
    {
        using var cipher = FrameCipher.Create(Key, implementation);
        var plain = new byte[Frame.PlainSize];
        var frame = new byte[Frame.SealedSize];
        Assert.Throws<ArgumentException>(() => cipher.Seal(new byte[8], plain, frame));
        Assert.Throws<ArgumentException>(() => cipher.Seal(new byte[FrameCipher.NonceSize], plain, new byte[Frame.SealedSize - 1]));
        Assert.Throws<ArgumentException>(() => cipher.Open(new byte[FrameCipher.NonceSize], new byte[FrameCipher.TagSize - 1], plain));
        Assert.Throws<ArgumentException>(() => cipher.Open(new byte[FrameCipher.NonceSize], frame, new byte[Frame.PlainSize - 1]));
        Assert.Throws<ArgumentException>(() => FrameCipher.Create(new byte[16], implementation));
    }

    [OpenSslTheory]
    [MemberData(nameof(Direct))]
    public void An_engine_seals_and_opens_frames_without_allocating(FrameCipherImplementation implementation)
    {
        using var cipher = FrameCipher.Create(Key, implementation);
        var nonce = new byte[FrameCipher.NonceSize];
        var plain = new byte[Frame.PlainSize];
        var frame = new byte[Frame.SealedSize];
        cipher.Seal(nonce, plain, frame);
        cipher.Open(nonce, frame, plain);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var opened = 0;
        for (var i = 0; i < 100; i++)
        {
            cipher.Seal(nonce, plain, frame);
            opened += cipher.Open(nonce, frame, plain) ? 1 : 0;
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(100, opened);
    }

    [OpenSslTheory]
    [MemberData(nameof(Direct))]
    public void A_disposed_engine_refuses_to_work_rather_than_use_its_key(FrameCipherImplementation implementation)
    {
        var cipher = FrameCipher.Create(Key, implementation);
        cipher.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cipher.Seal(new byte[FrameCipher.NonceSize], new byte[4], new byte[20]));
        Assert.Throws<ObjectDisposedException>(() => cipher.Open(new byte[FrameCipher.NonceSize], new byte[20], new byte[4]));
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
