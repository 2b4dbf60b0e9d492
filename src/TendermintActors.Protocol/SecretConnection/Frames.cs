using System.Buffers;
using System.Buffers.Binary;
using TendermintActors.Protocol.Errors;

namespace TendermintActors.Protocol.SecretConnection;

/// <summary>Sizes of SecretConnection frames (docs/protocol.md §3).</summary>
public static class Frame
{
    /// <summary>Most data bytes one frame carries.</summary>
    public const int DataMaxSize = 1024;
    /// <summary>The 4-byte little-endian length.</summary>
    public const int LengthSize = 4;
    /// <summary>Plain frame: length, data, padding.</summary>
    public const int PlainSize = LengthSize + DataMaxSize;
    /// <summary>Sealed frame on the wire: plain frame plus the Poly1305 tag.</summary>
    public const int SealedSize = PlainSize + FrameCipher.TagSize;

    /// <summary>Sealed bytes a write of <paramref name="dataLength"/> bytes produces (an empty write produces none, as in Go).</summary>
    public static int SealedLength(int dataLength) => (dataLength + DataMaxSize - 1) / DataMaxSize * SealedSize;

    internal static void WriteNonce(ulong counter, Span<byte> nonce)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
    }
}

/// <summary>
/// Seals one direction's frames: zero padding, a 64-bit little-endian counter nonce starting at 0 (or where the
/// handshake left it), and an end before the counter would wrap.
/// </summary>
public sealed class FrameSealer : IDisposable
{
    [ThreadStatic] private static byte[]? t_plain;
    private readonly FrameCipher _cipher;

    public FrameSealer(ReadOnlySpan<byte> key, FrameCipherImplementation? implementation = null)
        : this(key, 0, implementation) { }

    internal FrameSealer(ReadOnlySpan<byte> key, ulong firstCounter, FrameCipherImplementation? implementation = null)
    {
        _cipher = FrameCipher.Create(key, implementation);
        Counter = firstCounter;
    }

    /// <summary>The nonce counter the next frame will use.</summary>
    public ulong Counter { get; private set; }

    /// <summary>The cipher, for tests that look at its state.</summary>
    internal FrameCipher Cipher => _cipher;

    /// <summary>Seals one chunk of at most 1024 bytes into exactly 1044 bytes.</summary>
    public void SealFrame(ReadOnlySpan<byte> chunk, Span<byte> sealedFrame)
    {
        if (chunk.Length > Frame.DataMaxSize)
            throw new ArgumentException($"a frame carries at most {Frame.DataMaxSize} bytes", nameof(chunk));
        // Go panics rather than reuse a nonce; the last counter value is never used.
        if (Counter == ulong.MaxValue)
            throw new ProtocolViolationException(ProtocolViolation.NonceOverflow, "send nonce counter exhausted");
        // One scratch frame per thread, not per connection (sealing never yields mid-frame); a stackalloc would be
        // zeroed on every frame.
        var plain = (t_plain ??= new byte[Frame.PlainSize]).AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(plain, (uint)chunk.Length);
        chunk.CopyTo(plain[Frame.LengthSize..]);
        plain[(Frame.LengthSize + chunk.Length)..].Clear();
        Span<byte> nonce = stackalloc byte[FrameCipher.NonceSize];
        Frame.WriteNonce(Counter, nonce);
        _cipher.Seal(nonce, plain, sealedFrame[..Frame.SealedSize]);
        Counter++;
    }

    /// <summary>Cuts <paramref name="data"/> into frames and seals them into <paramref name="output"/>
    /// (which must hold <see cref="Frame.SealedLength"/> bytes); returns the bytes written.</summary>
    public int Seal(ReadOnlySpan<byte> data, Span<byte> output)
    {
        _cipher.BeginBatch(Frame.SealedLength(data.Length) / Frame.SealedSize);
        var written = 0;
        while (data.Length > 0)
        {
            var n = Math.Min(Frame.DataMaxSize, data.Length);
            SealFrame(data[..n], output.Slice(written, Frame.SealedSize));
            written += Frame.SealedSize;
            data = data[n..];
        }
        return written;
    }

    public void Seal(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        var length = Frame.SealedLength(data.Length);
        if (length == 0) return;
        output.Advance(Seal(data, output.GetSpan(length)));
    }

    public void Dispose() => _cipher.Dispose();
}

/// <summary>
/// Opens one direction's frames. Accepts ciphertext in pieces of any size (a partial frame waits for the rest);
/// a frame that fails to authenticate or declares more than 1024 bytes ends the connection. Padding is ignored.
/// </summary>
public sealed class FrameOpener : IDisposable
{
    private readonly FrameCipher _cipher;
    private byte[]? _plain; // for OpenFrame's view, made at its first use: the stage opens frames in place
    private readonly byte[] _nonce = new byte[FrameCipher.NonceSize];
    // A frame cut by the end of a read, rented from the pool while one is waiting for its rest: an idle connection
    // holds none.
    private byte[]? _partial;
    private int _partialLength;

    public FrameOpener(ReadOnlySpan<byte> key, FrameCipherImplementation? implementation = null)
        : this(key, 0, implementation) { }

    internal FrameOpener(ReadOnlySpan<byte> key, ulong firstCounter, FrameCipherImplementation? implementation = null)
    {
        _cipher = FrameCipher.Create(key, implementation);
        Counter = firstCounter;
    }

    /// <summary>The cipher, for tests that look at its state.</summary>
    internal FrameCipher Cipher => _cipher;

    /// <summary>The nonce counter the next frame must have been sealed with.</summary>
    public ulong Counter { get; private set; }

    /// <summary>Bytes of an incomplete frame waiting for the rest.</summary>
    public int PendingBytes => _partialLength;

    /// <summary>Bytes of buffer held between calls (for specs: none while no frame is partly received).</summary>
    internal int HeldBufferBytes => _partial?.Length ?? 0;

    /// <summary>Frames opened straight into a <see cref="PlaintextBuffer"/> (<see cref="OpenFrameInto"/>), for specs.</summary>
    internal long FramesOpenedInPlace { get; private set; }

    /// <summary>Opens exactly one sealed frame; returns its data (a view valid until the next call).</summary>
    public ReadOnlySpan<byte> OpenFrame(ReadOnlySpan<byte> sealedFrame)
    {
        var plain = _plain ??= new byte[Frame.PlainSize];
        return plain.AsSpan(Frame.LengthSize, OpenFrame(sealedFrame, plain));
    }

    /// <summary>
    /// Opens exactly one sealed frame into <paramref name="plain"/> (<see cref="Frame.PlainSize"/> bytes: length,
    /// data, padding); returns the data's length. Throws, with <paramref name="plain"/> cleared, when the frame does
    /// not authenticate.
    /// </summary>
    private int OpenFrame(ReadOnlySpan<byte> sealedFrame, Span<byte> plain)
    {
        if (sealedFrame.Length != Frame.SealedSize)
            throw new ArgumentException($"a sealed frame has {Frame.SealedSize} bytes", nameof(sealedFrame));
        if (Counter == ulong.MaxValue)
            throw new ProtocolViolationException(ProtocolViolation.NonceOverflow, "receive nonce counter exhausted");
        Frame.WriteNonce(Counter, _nonce);
        if (!_cipher.Open(_nonce, sealedFrame, plain[..Frame.PlainSize]))
            throw new ProtocolViolationException(ProtocolViolation.FrameAuthenticationFailed,
                $"frame {Counter} failed to authenticate");
        Counter++;
        var length = BinaryPrimitives.ReadUInt32LittleEndian(plain);
        if (length > Frame.DataMaxSize)
            throw new ProtocolViolationException(ProtocolViolation.FrameTooLong,
                $"frame declares {length} data bytes, more than {Frame.DataMaxSize}");
        return (int)length;
    }

    /// <summary>Opens every whole frame in <paramref name="ciphertext"/> (after any partial one held from before),
    /// writing the data to <paramref name="plaintext"/>; keeps a trailing partial frame for the next call.</summary>
    public void Open(ReadOnlySpan<byte> ciphertext, IBufferWriter<byte> plaintext) => Open(ciphertext, plaintext, null);

    /// <summary>
    /// As <see cref="Open(ReadOnlySpan{byte}, IBufferWriter{byte})"/>, opening each frame straight into the buffer
    /// (<see cref="OpenFrameInto"/>) instead of copying its data there.
    /// </summary>
    internal void Open(ReadOnlySpan<byte> ciphertext, PlaintextBuffer plaintext) => Open(ciphertext, plaintext, plaintext);

    private void Open(ReadOnlySpan<byte> ciphertext, IBufferWriter<byte> plaintext, PlaintextBuffer? inPlace)
    {
        var frames = (_partialLength + ciphertext.Length) / Frame.SealedSize;
        if (frames > 0)
            _cipher.BeginBatch(frames);
        if (_partialLength > 0)
        {
            var partial = _partial!;
            var take = Math.Min(Frame.SealedSize - _partialLength, ciphertext.Length);
            ciphertext[..take].CopyTo(partial.AsSpan(_partialLength));
            _partialLength += take;
            ciphertext = ciphertext[take..];
            if (_partialLength < Frame.SealedSize) return;
            _partialLength = 0;
            try
            {
                OpenFrameTo(partial.AsSpan(0, Frame.SealedSize), plaintext, inPlace);
            }
            finally
            {
                ReturnPartial();
            }
        }
        while (ciphertext.Length >= Frame.SealedSize)
        {
            OpenFrameTo(ciphertext[..Frame.SealedSize], plaintext, inPlace);
            ciphertext = ciphertext[Frame.SealedSize..];
        }
        if (ciphertext.IsEmpty) return;
        _partial ??= ArrayPool<byte>.Shared.Rent(Frame.SealedSize);
        ciphertext.CopyTo(_partial);
        _partialLength = ciphertext.Length;
    }

    private void ReturnPartial()
    {
        if (_partial is null) return;
        ArrayPool<byte>.Shared.Return(_partial);
        _partial = null;
    }

    // The copying path's scratch frame: one per thread, as the sealer's, so that an opener that once copied a frame
    // (the handshake's, for the node info) does not keep 1 KiB for the connection's life. OpenFrame's view has its own.
    [ThreadStatic] private static byte[]? t_scratch;

    private void OpenFrameTo(ReadOnlySpan<byte> sealedFrame, IBufferWriter<byte> plaintext, PlaintextBuffer? inPlace)
    {
        if (inPlace is not null && OpenFrameInto(sealedFrame, inPlace)) return;
        var plain = t_scratch ??= new byte[Frame.PlainSize];
        var length = OpenFrame(sealedFrame, plain);
        Write(plain.AsSpan(Frame.LengthSize, length), plaintext);
        plain.AsSpan(0, Frame.LengthSize + length).Clear(); // no plaintext left behind in a buffer shared by the thread
    }

    /// <summary>Whether the opener holds a scratch frame of its own (specs: only after <see cref="OpenFrame(ReadOnlySpan{byte})"/>).</summary>
    internal bool HoldsScratchFrame => _plain is not null;

    /// <summary>
    /// Opens a frame so that its data lands right after the buffer's pending bytes, with no copy: the plain frame
    /// (length, data, padding) is decrypted to start <see cref="Frame.LengthSize"/> bytes before the buffer's end,
    /// over the last bytes already there (or the buffer's headroom), which are put back once the length has been read.
    /// False, having done nothing, when the buffer has fewer than that many bytes before its end; its headroom makes
    /// that a guard rather than a case that happens.
    /// </summary>
    private bool OpenFrameInto(ReadOnlySpan<byte> sealedFrame, PlaintextBuffer plaintext)
    {
        if (!plaintext.TryGetSpanOverlappingEnd(Frame.LengthSize, Frame.DataMaxSize, out var plain))
            return false;
        var overlapped = BinaryPrimitives.ReadUInt32LittleEndian(plain);
        int length;
        try
        {
            length = OpenFrame(sealedFrame, plain);
        }
        finally
        {
            BinaryPrimitives.WriteUInt32LittleEndian(plain, overlapped);
        }
        plaintext.Advance(length);
        FramesOpenedInPlace++;
        return true;
    }

    private static void Write(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (data.IsEmpty) return;
        data.CopyTo(output.GetSpan(data.Length));
        output.Advance(data.Length);
    }

    public void Dispose()
    {
        _cipher.Dispose();
        _partialLength = 0;
        ReturnPartial();
    }
}
