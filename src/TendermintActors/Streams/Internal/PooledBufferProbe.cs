using Akka.Streams;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// Lets a spec watch a buffer that a stage rents from the shared pool only while it is in use: how many bytes it holds
/// right now, and how often it rented and returned one. Written by the stage, read by the spec.
/// </summary>
internal abstract class PooledBufferProbe : Attributes.IAttribute
{
    private int _held;
    private int _rents;
    private int _returns;

    public int HeldBytes => Volatile.Read(ref _held);
    public int Rents => Volatile.Read(ref _rents);
    public int Returns => Volatile.Read(ref _returns);

    internal void Rented(int bytes)
    {
        Volatile.Write(ref _held, bytes);
        Interlocked.Increment(ref _rents);
    }

    internal void Returned()
    {
        Volatile.Write(ref _held, 0);
        Interlocked.Increment(ref _returns);
    }
}

/// <summary>The <see cref="MConnectionStage"/>'s output buffer (with <c>LendOutput</c>).</summary>
internal sealed class MConnectionOutputProbe : PooledBufferProbe;

/// <summary>
/// Lets a spec see whether the MConnection's send stage and receive rate limiter run their refill timers, which they
/// start only when a spend leaves no budget, and how often they started them. Written by the stages, read by the spec.
/// </summary>
internal sealed class RefillProbe : Attributes.IAttribute
{
    private int _send;
    private int _receive;
    private int _starts;

    public bool SendRefilling => Volatile.Read(ref _send) != 0;
    public bool ReceiveRefilling => Volatile.Read(ref _receive) != 0;

    /// <summary>Refill timers started, both directions.</summary>
    public int Starts => Volatile.Read(ref _starts);

    internal void Send(bool refilling) => Set(ref _send, refilling);
    internal void Receive(bool refilling) => Set(ref _receive, refilling);

    private void Set(ref int flag, bool refilling)
    {
        if (refilling) Interlocked.Increment(ref _starts);
        Volatile.Write(ref flag, refilling ? 1 : 0);
    }
}
