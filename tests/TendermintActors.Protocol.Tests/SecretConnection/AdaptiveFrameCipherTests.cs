using System.Buffers;
using System.Security.Cryptography;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Protocol.Tests.SecretConnection;

/// <summary>
/// libsodium called directly, and the adaptive cipher that uses it for small batches and OpenSSL for bulk ones. Go's
/// frames, byte for byte, are in HandshakeVectorTests (every implementation); these check what is particular to them:
/// the batch rule and that a switch of engine mid-stream changes no byte.
/// </summary>
public class AdaptiveFrameCipherTests
{
    private static readonly byte[] Key = Enumerable.Range(0, FrameCipher.KeySize).Select(i => (byte)(i * 11 + 3)).ToArray();

    [Fact]
    public void Sodium_seals_as_NSec_does_and_each_opens_the_others_frames()
    {
        var random = new Random(2044); // fixed, so that a failure reproduces
        for (var k = 0; k < 50; k++)
        {
            var key = Bytes(random, FrameCipher.KeySize);
            using var sodium = FrameCipher.Create(key, FrameCipherImplementation.Sodium);
            using var nsec = FrameCipher.Create(key, FrameCipherImplementation.NSec);
            for (var f = 0; f < 6; f++)
            {
                var length = f switch { 0 => 0, 1 => 1, 2 => Frame.PlainSize, _ => random.Next(Frame.PlainSize + 1) };
                var nonce = Bytes(random, FrameCipher.NonceSize);
                var plain = Bytes(random, length);
                var bySodium = new byte[length + FrameCipher.TagSize];
                var byNSec = new byte[length + FrameCipher.TagSize];
                sodium.Seal(nonce, plain, bySodium);
                nsec.Seal(nonce, plain, byNSec);
                Assert.Equal(byNSec, bySodium);

                var opened = new byte[length];
                Assert.True(sodium.Open(nonce, byNSec, opened), $"key {k} frame {f}");
                Assert.Equal(plain, opened);
            }
        }
    }

    [Theory]
    [InlineData(0)] // first ciphertext byte
    [InlineData(Frame.PlainSize - 1)] // last ciphertext byte
    [InlineData(Frame.PlainSize)] // first tag byte
    [InlineData(Frame.SealedSize - 1)] // last tag byte
    public void Sodium_refuses_a_frame_with_a_flipped_bit_and_leaves_no_plaintext(int index)
    {
        using var cipher = FrameCipher.Create(Key, FrameCipherImplementation.Sodium);
        var nonce = RandomNumberGenerator.GetBytes(FrameCipher.NonceSize);
        var plain = RandomNumberGenerator.GetBytes(Frame.PlainSize);
        var frame = new byte[Frame.SealedSize];
        cipher.Seal(nonce, plain, frame);
        frame[index] ^= 0x10;

        var opened = Enumerable.Repeat((byte)0xAA, Frame.PlainSize).ToArray();
        Assert.False(cipher.Open(nonce, frame, opened));
        Assert.All(opened, b => Assert.Equal(0, b)); // libsodium clears the output when the tag does not verify

        frame[index] ^= 0x10;
        Assert.True(cipher.Open(nonce, frame, opened));
        Assert.Equal(plain, opened);
    }

    [Fact]
    public void Sodium_checks_lengths_before_handing_pointers_to_libsodium()
    {
        using var cipher = FrameCipher.Create(Key, FrameCipherImplementation.Sodium);
        var plain = new byte[Frame.PlainSize];
        var frame = new byte[Frame.SealedSize];
        Assert.Throws<ArgumentException>(() => cipher.Seal(new byte[8], plain, frame));
        Assert.Throws<ArgumentException>(() => cipher.Seal(new byte[FrameCipher.NonceSize], plain, new byte[Frame.SealedSize - 1]));
        Assert.Throws<ArgumentException>(() => cipher.Open(new byte[FrameCipher.NonceSize], new byte[FrameCipher.TagSize - 1], plain));
        Assert.Throws<ArgumentException>(() => cipher.Open(new byte[FrameCipher.NonceSize], frame, new byte[Frame.PlainSize - 1]));
        Assert.Throws<ArgumentException>(() => FrameCipher.Create(new byte[16], FrameCipherImplementation.Sodium));
    }

    [Fact]
    public void A_disposed_Sodium_cipher_refuses_to_work_rather_than_use_its_zeroed_key()
    {
        var cipher = FrameCipher.Create(Key, FrameCipherImplementation.Sodium);
        cipher.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cipher.Seal(new byte[FrameCipher.NonceSize], new byte[4], new byte[20]));
        Assert.Throws<ObjectDisposedException>(() => cipher.Open(new byte[FrameCipher.NonceSize], new byte[20], new byte[4]));
        if (!OpenSslFrameCipher.IsAvailable) return; // adaptive is libsodium alone there
        var adaptive = FrameCipher.Create(Key, FrameCipherImplementation.Adaptive);
        adaptive.Dispose();
        Assert.Throws<ObjectDisposedException>(() => adaptive.BeginBatch(AdaptiveFrameCipher.BulkFrames));
    }

    [Fact]
    public void Sodium_seals_and_opens_frames_without_allocating()
    {
        using var cipher = FrameCipher.Create(Key, FrameCipherImplementation.Sodium);
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

    [OpenSslFact]
    public void Small_batches_hold_no_OpenSsl_context_a_bulk_batch_takes_one_and_a_run_of_small_ones_lets_it_go()
    {
        using var cipher = (AdaptiveFrameCipher)FrameCipher.Create(Key, FrameCipherImplementation.Adaptive);
        for (var i = 0; i < 100; i++)
            cipher.BeginBatch(1 + i % (AdaptiveFrameCipher.BulkFrames - 1));
        Assert.False(cipher.HoldsBulkContext);

        cipher.BeginBatch(AdaptiveFrameCipher.BulkFrames);
        Assert.True(cipher.HoldsBulkContext);

        // Small batches between bulk ones keep it: a bulk transfer interleaved with votes does not churn contexts.
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < AdaptiveFrameCipher.SmallBatchesBeforeRelease - 1; i++)
                cipher.BeginBatch(1);
            Assert.True(cipher.HoldsBulkContext);
            cipher.BeginBatch(64);
        }

        for (var i = 0; i < AdaptiveFrameCipher.SmallBatchesBeforeRelease; i++)
            cipher.BeginBatch(1);
        Assert.False(cipher.HoldsBulkContext);
    }

    [OpenSslFact]
    public void A_connection_idle_after_its_handshake_holds_no_OpenSsl_context_and_one_moving_bulk_data_does()
    {
        using var sealer = new FrameSealer(Key, FrameCipherImplementation.Adaptive);
        using var opener = new FrameOpener(Key, FrameCipherImplementation.Adaptive);
        var wire = new ArrayBufferWriter<byte>();
        var plain = new ArrayBufferWriter<byte>();

        sealer.Seal(new byte[300], wire); // node info, pings: a frame at a time
        opener.Open(wire.WrittenSpan, plain);
        Assert.False(Holds(sealer) || Holds(opener));

        wire.Clear();
        sealer.Seal(new byte[64 * 1024], wire); // a block part
        opener.Open(wire.WrittenSpan, plain);
        Assert.True(Holds(sealer) && Holds(opener));
        Assert.Equal(300 + 64 * 1024, plain.WrittenCount);
    }

    [OpenSslFact]
    public void Frames_sealed_while_the_engine_changes_are_the_bytes_NSec_seals_and_open_in_any_pieces()
    {
        var random = new Random(4096);
        using var adaptive = new FrameSealer(Key, FrameCipherImplementation.Adaptive);
        using var reference = new FrameSealer(Key, FrameCipherImplementation.NSec);
        using var adaptiveOpener = new FrameOpener(Key, FrameCipherImplementation.Adaptive);
        var byAdaptive = new ArrayBufferWriter<byte>();
        var byReference = new ArrayBufferWriter<byte>();
        var sent = new List<byte>();
        // Bulk and small batches mixed, and long enough runs of small ones that the context comes and goes.
        int[] sizes = [.. Enumerable.Range(0, 120).Select(i => i % 40 < 20 ? random.Next(1, 2048) : random.Next(33 * 1024, 90_000))];
        var engines = new List<bool>();
        foreach (var size in sizes)
        {
            var data = Bytes(random, size);
            sent.AddRange(data);
            adaptive.Seal(data, byAdaptive);
            reference.Seal(data, byReference);
            engines.Add(Holds(adaptive));
        }
        Assert.Equal(byReference.WrittenSpan.ToArray(), byAdaptive.WrittenSpan.ToArray());
        // The engine did change, both ways, and more than once.
        Assert.True(engines.Zip(engines.Skip(1)).Count(p => !p.First && p.Second) >= 2, "OpenSSL was taken fewer than twice");
        Assert.True(engines.Zip(engines.Skip(1)).Count(p => p.First && !p.Second) >= 2, "OpenSSL was released fewer than twice");

        // Opened in pieces that cut frames anywhere, so that batches of every size reach the opener.
        var received = new ArrayBufferWriter<byte>();
        var wire = byAdaptive.WrittenMemory;
        var openedWithOpenSsl = false;
        while (!wire.IsEmpty)
        {
            var take = Math.Min(wire.Length, random.Next(1, 2 * AdaptiveFrameCipher.BulkFrames * Frame.SealedSize));
            adaptiveOpener.Open(wire.Span[..take], received);
            openedWithOpenSsl |= Holds(adaptiveOpener);
            wire = wire[take..];
        }
        Assert.Equal(sent, received.WrittenSpan.ToArray());
        Assert.True(openedWithOpenSsl);
    }

    [OpenSslFact]
    public void A_tampered_frame_ends_the_connection_whichever_engine_opens_it()
    {
        foreach (var batch in new[] { 1, AdaptiveFrameCipher.BulkFrames })
        {
            using var sealer = new FrameSealer(Key, FrameCipherImplementation.Adaptive);
            using var opener = new FrameOpener(Key, FrameCipherImplementation.Adaptive);
            var wire = new ArrayBufferWriter<byte>();
            sealer.Seal(new byte[batch * Frame.DataMaxSize], wire);
            var bytes = wire.WrittenSpan.ToArray();
            bytes[^1] ^= 1;
            var e = Assert.Throws<ProtocolViolationException>(() => opener.Open(bytes, new ArrayBufferWriter<byte>()));
            Assert.Equal(ProtocolViolation.FrameAuthenticationFailed, e.Reason);
            Assert.Equal(batch >= AdaptiveFrameCipher.BulkFrames, Holds(opener)); // which engine refused it
        }
    }

    private static bool Holds(FrameSealer sealer) => ((AdaptiveFrameCipher)sealer.Cipher).HoldsBulkContext;

    private static bool Holds(FrameOpener opener) => ((AdaptiveFrameCipher)opener.Cipher).HoldsBulkContext;

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
