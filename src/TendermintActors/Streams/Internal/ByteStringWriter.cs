using System.Buffers;
using System.Numerics;
using Akka.IO;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// A growable buffer whose filled part is handed to a <see cref="ByteString"/> without a copy: <see cref="Detach"/>
/// gives the array away (ByteString.FromBytes wraps, it does not copy) and the next write starts a fresh one.
/// Arrays are rented from the shared pool; a lent one comes back as the spare (<see cref="Reclaim"/>), which
/// <see cref="ReleaseSpare"/> gives back to the pool when the writer goes idle.
/// </summary>
internal sealed class ByteStringWriter(int initialCapacity) : IBufferWriter<byte>
{
    private readonly int _initialCapacity = Math.Max(1, initialCapacity);
    private byte[]? _buffer;
    private int _count;
    private byte[]? _lent; // handed out by Lend and not yet reclaimed
    private byte[]? _spare; // reclaimed, for the next writes

    public int WrittenCount => _count;

    /// <summary>Bytes of array held: being written, lent or spare (for specs).</summary>
    internal int HeldBytes => (_buffer?.Length ?? 0) + (_lent?.Length ?? 0) + (_spare?.Length ?? 0);

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
        // Compared with what the pool would give for that size (it rounds up to a power of two).
        if (_lent.Length <= 2 * (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(_initialCapacity, NextCapacity)))
        {
            ReleaseSpare();
            _spare = _lent;
        }
        else
            ArrayPool<byte>.Shared.Return(_lent);
        _lent = null;
    }

    /// <summary>Gives the spare array back to the pool: the caller has nothing more to write for now.</summary>
    public void ReleaseSpare()
    {
        if (_spare is null) return;
        ArrayPool<byte>.Shared.Return(_spare);
        _spare = null;
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
        // Pooled arrays are not zeroed: only the written part is ever handed out.
        if (_buffer is null && _spare is not null && _spare.Length >= needed)
        {
            _buffer = _spare;
            _spare = null;
        }
        else if (_buffer is null)
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(_initialCapacity, NextCapacity)));
        else if (_buffer.Length < needed)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, _count).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = grown;
        }
        return _buffer;
    }
}
