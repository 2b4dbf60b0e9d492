using System.Buffers;
using System.Security.Cryptography;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Protocol.Tests.SecretConnection;

/// <summary>
/// The adaptive cipher, libsodium for small batches and OpenSSL for bulk ones. Go's frames, byte for byte, are in
/// HandshakeVectorTests (every implementation), and what each engine does alone in FrameCipherTests; these check what is
/// particular to it: the batch rule and that a switch of engine mid-stream changes no byte.
/// </summary>
public class AdaptiveFrameCipherTests
{
    private static readonly byte[] Key = Enumerable.Range(0, FrameCipher.KeySize).Select(i => (byte)(i * 11 + 3)).ToArray();

    [OpenSslFact]
    public void A_disposed_adaptive_cipher_takes_no_OpenSsl_context_for_its_zeroed_key()
    {
        var adaptive = FrameCipher.Create(Key, FrameCipherImplementation.Adaptive);
        adaptive.Dispose();
        Assert.Throws<ObjectDisposedException>(() => adaptive.BeginBatch(AdaptiveFrameCipher.BulkFrames));
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
