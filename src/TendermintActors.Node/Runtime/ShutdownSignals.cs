using System.Runtime.InteropServices;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// Turns Ctrl-C and SIGTERM into a cancelled token (and keeps the runtime from killing the process at once), so a
/// long-running command shuts its ActorSystem down through CoordinatedShutdown: peers are stopped politely.
/// </summary>
/// <remarks>
/// The runtime copies a signal's handlers before running them on another thread, so a handler can still run after
/// its <see cref="PosixSignalRegistration"/> is disposed, and concurrently with <see cref="Dispose"/>. No lock: one
/// state word, changed by <see cref="Interlocked"/> operations, decides who may touch the token source. A handler that
/// starts cancelling marks it busy; whichever of that handler and <see cref="Dispose"/> finishes last disposes the
/// source, so it is never cancelled after being disposed. A first signal whose handler runs after Dispose (the
/// command is over and the process is exiting with the command's own exit code) is kept from the default action too:
/// ending the process there could only replace that exit code with the signal's.
/// </remarks>
internal sealed class ShutdownSignals : IDisposable
{
    /// <summary>Subscribes a handler to one signal; the default is <see cref="PosixSignalRegistration.Create"/>.</summary>
    internal delegate IDisposable Register(PosixSignal signal, Action<PosixSignalContext> handler);

    private const int Signalled = 1;  // a first signal came: later ones fall through to the default (end now)
    private const int Cancelling = 2; // a handler is cancelling the source: it disposes it if Dispose ran meanwhile
    private const int Disposed = 4;

    private readonly CancellationTokenSource _cancellation;
    private readonly List<IDisposable> _registrations = new();
    private int _state;

    public ShutdownSignals(CancellationToken outer)
        : this(outer, static (signal, handler) => PosixSignalRegistration.Create(signal, handler))
    {
    }

    internal ShutdownSignals(CancellationToken outer, Register register)
    {
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(outer);
        Token = _cancellation.Token; // kept: the source's Token property throws once it is disposed
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT })
            _registrations.Add(register(signal, OnSignal));
    }

    public CancellationToken Token { get; }

    private void OnSignal(PosixSignalContext context)
    {
        // Only the first signal cancels, and only before Dispose. A second signal falls through to the default: the
        // process ends now.
        var before = Interlocked.CompareExchange(ref _state, Signalled | Cancelling, 0);
        if (before == Disposed)
        {
            // The first signal, after Dispose: nothing left to cancel, and the process is already on its way out.
            if (Interlocked.CompareExchange(ref _state, Disposed | Signalled, Disposed) == Disposed)
                context.Cancel = true;
            return;
        }
        if (before != 0)
            return;
        context.Cancel = true;
        try
        {
            _cancellation.Cancel();
        }
        finally
        {
            if ((Interlocked.And(ref _state, ~Cancelling) & Disposed) != 0)
                _cancellation.Dispose(); // Dispose ran while we cancelled and left the source to us
        }
    }

    public void Dispose()
    {
        var before = Interlocked.Or(ref _state, Disposed);
        if ((before & Disposed) != 0)
            return;
        foreach (var registration in _registrations)
            registration.Dispose();
        if ((before & Cancelling) == 0)
            _cancellation.Dispose();
    }
}
