namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// One channel's receive window on one connection, without I/O: the messages handed to the reactor and not yet
/// acknowledged, counted (at most the channel's <see cref="ChannelDescriptor.RecvBufferCapacity"/>) and in bytes (the
/// connection's <c>recv-window</c>). While the window <see cref="IsFull"/>, the owner stops reading from the peer (TCP
/// back-pressure on that peer alone) and holds any message it has already decoded (<see cref="Hold"/>). A channel
/// therefore holds at most one message beyond the byte window, and a message larger than the window still goes
/// through, alone. Acknowledgements are counts and free the oldest deliveries' bytes first.
/// </summary>
/// <remarks>Its queues are made at first use: a channel that never receives holds none.</remarks>
public sealed class ReceiveWindow
{
    private Queue<int>? _unacknowledgedSizes;
    private Queue<byte[]>? _held;

    public ReceiveWindow(ChannelDescriptor descriptor, long windowBytes)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(windowBytes);
        Id = descriptor.Id;
        Bound = BoundOf(descriptor);
        WindowBytes = windowBytes;
    }

    public byte Id { get; }

    /// <summary>Most messages delivered and not yet acknowledged.</summary>
    public int Bound { get; }

    /// <summary>The <see cref="Bound"/> of a window on <paramref name="descriptor"/>'s channel.</summary>
    internal static int BoundOf(ChannelDescriptor descriptor) => Math.Max(1, descriptor.RecvBufferCapacity);

    /// <summary>Unacknowledged bytes at which the window is full.</summary>
    public long WindowBytes { get; }

    /// <summary>How many messages decoded while the window was full wait to be delivered.</summary>
    public int HeldCount => _held?.Count ?? 0;

    /// <summary>Keeps a message decoded while the window is full, to be delivered in order (<see cref="TryTakeHeld"/>).</summary>
    public void Hold(byte[] message)
    {
        ArgumentNullException.ThrowIfNull(message);
        (_held ??= new Queue<byte[]>()).Enqueue(message);
    }

    /// <summary>Takes the oldest held message, if any.</summary>
    public bool TryTakeHeld([System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out byte[] message)
    {
        if (_held is { Count: > 0 } held)
        {
            message = held.Dequeue();
            return true;
        }
        message = null;
        return false;
    }

    public int Unacknowledged => _unacknowledgedSizes?.Count ?? 0;

    public long UnacknowledgedBytes { get; private set; }

    public bool IsFull => Unacknowledged >= Bound || UnacknowledgedBytes >= WindowBytes;

    /// <summary>Counts a message of <paramref name="size"/> bytes handed to the reactor.</summary>
    public void Delivered(int size)
    {
        (_unacknowledgedSizes ??= new Queue<int>()).Enqueue(size);
        UnacknowledgedBytes += size;
    }

    /// <summary>
    /// The reactor is done with its <paramref name="count"/> oldest messages. Acknowledging more than was delivered is
    /// the owner's bug; it frees only what was delivered, so it cannot lift the bound for messages still to come.
    /// </summary>
    public void Acknowledge(int count)
    {
        if (_unacknowledgedSizes is null) return;
        for (; count > 0 && _unacknowledgedSizes.TryDequeue(out var size); count--)
            UnacknowledgedBytes -= size;
    }
}
