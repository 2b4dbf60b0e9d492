using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Benchmarks;

/// <summary>
/// One full SecretConnection frame (1024 data bytes, 1028 sealed plus the tag) per operation, with each
/// ChaCha20-Poly1305 implementation, into preallocated buffers: the hot path must not allocate.
/// </summary>
[MemoryDiagnoser]
public class FrameCipherBenchmarks
{
    private readonly byte[] _data = new byte[Frame.DataMaxSize];
    private readonly byte[] _sealed = new byte[Frame.SealedSize];
    private readonly byte[] _fixedNonceFrame = new byte[Frame.SealedSize];
    private readonly byte[] _plain = new byte[Frame.PlainSize];
    private readonly byte[] _nonce = new byte[FrameCipher.NonceSize];
    private FrameSealer _sealer = null!;
    private FrameSealer _pairSealer = null!;
    private FrameOpener _pairOpener = null!;
    private FrameCipher _cipher = null!;

    [Params(FrameCipherImplementation.Bcl, FrameCipherImplementation.NSec, FrameCipherImplementation.OpenSsl)]
    public FrameCipherImplementation Implementation { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // FrameCipher.Create falls back to NSec without libcrypto; the OpenSsl row must not time NSec under its name.
        if (Implementation == FrameCipherImplementation.OpenSsl && !OpenSslFrameCipher.IsAvailable)
            throw new InvalidOperationException("OpenSSL's libcrypto is not available here; the OpenSsl row would time NSec");
        var key = RandomNumberGenerator.GetBytes(FrameCipher.KeySize);
        RandomNumberGenerator.Fill(_data);
        _sealer = new FrameSealer(key, Implementation);
        _pairSealer = new FrameSealer(key, Implementation);
        _pairOpener = new FrameOpener(key, Implementation);

        // An opener's counter moves on with every frame, so one sealed frame opens only once; the Open benchmark
        // therefore calls the cipher under FrameOpener with a fixed nonce (the same AEAD work on the same 1044 bytes).
        _cipher = FrameCipher.Create(key, Implementation);
        using (var sealer = new FrameSealer(key, Implementation))
            sealer.SealFrame(_data, _fixedNonceFrame);
        if (!_cipher.Open(_nonce, _fixedNonceFrame, _plain) || !_plain.AsSpan(Frame.LengthSize).SequenceEqual(_data))
            throw new InvalidOperationException("the fixed-nonce frame does not open; the Open benchmark would time the failure path");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sealer.Dispose();
        _pairSealer.Dispose();
        _pairOpener.Dispose();
        _cipher.Dispose();
    }

    /// <summary>FrameSealer.SealFrame: length prefix, copy, padding, nonce, encrypt, tag.</summary>
    [Benchmark]
    public void Seal() => _sealer.SealFrame(_data, _sealed);

    /// <summary>The decryption and tag check of FrameOpener.OpenFrame, without its 8-byte counter bookkeeping.</summary>
    [Benchmark]
    public bool Open() => _cipher.Open(_nonce, _fixedNonceFrame, _plain);

    /// <summary>The public path end to end: seal a frame, open it with the matching counter. Cross-checks Seal + Open.</summary>
    [Benchmark]
    public int SealThenOpen()
    {
        _pairSealer.SealFrame(_data, _sealed);
        return _pairOpener.OpenFrame(_sealed).Length;
    }
}
