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
        if (_buffer is null)
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
