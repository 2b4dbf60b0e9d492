namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// One channel's receive window on one connection, without I/O: the messages handed to the reactor and not yet
/// acknowledged, counted (at most the channel's <see cref="ChannelDescriptor.RecvBufferCapacity"/>) and in bytes (the
/// connection's <c>recv-window</c>). While the window <see cref="IsFull"/>, the owner stops reading from the peer (TCP
/// back-pressure on that peer alone) and keeps any message it already decoded in <see cref="Held"/>. A channel
/// therefore holds at most one message beyond the byte window, and a message larger than the window still goes
/// through, alone. Acknowledgements are counts and free the oldest deliveries' bytes first.
/// </summary>
public sealed class ReceiveWindow
{
    private readonly Queue<int> _unacknowledgedSizes = new();

    public ReceiveWindow(ChannelDescriptor descriptor, long windowBytes)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(windowBytes);
        Id = descriptor.Id;
        Bound = Math.Max(1, descriptor.RecvBufferCapacity);
        WindowBytes = windowBytes;
    }

    public byte Id { get; }

    /// <summary>Most messages delivered and not yet acknowledged.</summary>
    public int Bound { get; }

    /// <summary>Unacknowledged bytes at which the window is full.</summary>
    public long WindowBytes { get; }

    /// <summary>Messages decoded while the window was full, waiting to be delivered in order.</summary>
    public Queue<byte[]> Held { get; } = new();

    public int Unacknowledged => _unacknowledgedSizes.Count;

    public long UnacknowledgedBytes { get; private set; }

    public bool IsFull => Unacknowledged >= Bound || UnacknowledgedBytes >= WindowBytes;

    /// <summary>Counts a message of <paramref name="size"/> bytes handed to the reactor.</summary>
    public void Delivered(int size)
    {
        _unacknowledgedSizes.Enqueue(size);
        UnacknowledgedBytes += size;
    }

    /// <summary>
    /// The reactor is done with its <paramref name="count"/> oldest messages. Acknowledging more than was delivered is
    /// the owner's bug; it frees only what was delivered, so it cannot lift the bound for messages still to come.
    /// </summary>
    public void Acknowledge(int count)
    {
        for (; count > 0 && _unacknowledgedSizes.TryDequeue(out var size); count--)
            UnacknowledgedBytes -= size;
    }
}
