using System.Buffers;
using Akka.IO;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// A growable buffer whose filled part is handed to a <see cref="ByteString"/> without a copy: <see cref="Detach"/>
/// gives the array away (ByteString.FromBytes wraps, it does not copy) and the next write starts a fresh one.
/// </summary>
internal sealed class ByteStringWriter(int initialCapacity) : IBufferWriter<byte>
{
    private readonly int _initialCapacity = Math.Max(1, initialCapacity);
    private byte[]? _buffer;
    private int _count;
    private byte[]? _lent; // handed out by Lend and not yet reclaimed
    private byte[]? _spare; // reclaimed, for the next writes

    public int WrittenCount => _count;

    /// <summary>Capacity of the next fresh array; follows what the last one held so batches do not regrow each time.</summary>
    public int NextCapacity { get; set; } = Math.Max(1, initialCapacity);

    public void Advance(int count) => _count += count;

    public Memory<byte> GetMemory(int sizeHint = 0) => Ensure(sizeHint).AsMemory(_count);

    public Span<byte> GetSpan(int sizeHint = 0) => Ensure(sizeHint).AsSpan(_count);

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Advance(bytes.Length);
    }

    /// <summary>
    /// Hands out the filled part as a view of the array without giving it away: the next writes go to a second array,
    /// and the lent one is used again after <see cref="Reclaim"/>, once its reader is done with it.
    /// </summary>
    public ByteString Lend()
    {
        if (_buffer is null || _count == 0) return ByteString.Empty;
        if (_lent is not null)
            throw new InvalidOperationException("a buffer is still lent");
        var bytes = ByteString.FromBytes(_buffer, 0, _count);
        _lent = _buffer;
        _buffer = null;
        _count = 0;
        return bytes;
    }

    /// <summary>
    /// The reader of the last <see cref="Lend"/> is done with it: its array serves the next writes, unless it grew past
    /// twice the size writes have lately needed (<see cref="NextCapacity"/>), so that a connection gone quiet does not
    /// keep a burst's large buffer.
    /// </summary>
    public void Reclaim()
    {
        if (_lent is null) return;
        _spare = _lent.Length <= 2 * Math.Max(_initialCapacity, NextCapacity) ? _lent : null;
        _lent = null;
    }

    public ByteString Detach()
    {
        var bytes = _buffer is null || _count == 0 ? ByteString.Empty : ByteString.FromBytes(_buffer, 0, _count);
        _buffer = null;
        _count = 0;
        return bytes;
    }

    private byte[] Ensure(int sizeHint)
    {
        var needed = _count + Math.Max(1, sizeHint);
        // Uninitialized: only the written part is ever handed out, and skipping the zeroing of 64 KiB batches is
        // measurable on the hot path.
        if (_buffer is null && _spare is not null && _spare.Length >= needed)
        {
            _buffer = _spare;
            _spare = null;
        }
        else if (_buffer is null)
            _buffer = GC.AllocateUninitializedArray<byte>(Math.Max(needed, Math.Max(_initialCapacity, NextCapacity)));
        else if (_buffer.Length < needed)
        {
            var grown = GC.AllocateUninitializedArray<byte>(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, _count).CopyTo(grown);
            _buffer = grown;
        }
        return _buffer;
    }
}
