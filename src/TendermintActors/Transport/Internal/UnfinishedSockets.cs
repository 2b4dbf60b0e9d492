using Akka.Streams;

namespace TendermintActors.Transport.Internal;

/// <summary>
/// Counts a switch's connected sockets whose FIN is not out yet: those that stopping their stream now would reset
/// (<see cref="SocketConnectionStage"/> closes a connection in order only once it has shut down its writes). A peer
/// ends when its MConnection has handed its last bytes to the lower part, which may still be writing them; the switch
/// answers a shutdown only once this count is zero too, so that stopping the actor system after it resets no
/// connection that was ending in order. Given to the socket stages as an attribute of the fused lower part.
/// </summary>
internal sealed class UnfinishedSockets : Attributes.IAttribute
{
    private int _count;
    private TaskCompletionSource? _waiter;

    /// <summary>How many sockets are connected with their FIN not yet out.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>A socket connected: it counts until <see cref="Finished"/>.</summary>
    public void Started() => Interlocked.Increment(ref _count);

    /// <summary>A socket's FIN is out, or it was closed or reset: stopping its stream can no longer reset it.</summary>
    public void Finished()
    {
        if (Interlocked.Decrement(ref _count) == 0)
            Interlocked.Exchange(ref _waiter, null)?.TrySetResult();
    }

    /// <summary>
    /// Completes once no socket is unfinished (at once if none is now). One waiter at a time: a second call releases
    /// the first, whose holder must look at <see cref="Count"/> again.
    /// </summary>
    public Task WhenNone()
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _waiter, waiter)?.TrySetResult();
        // A socket finishing between the exchange and here either found the waiter or is counted out already.
        if (Count == 0)
            Interlocked.Exchange(ref _waiter, null)?.TrySetResult();
        return waiter.Task;
    }
}
