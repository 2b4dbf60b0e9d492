using System.Runtime.InteropServices;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// Turns Ctrl-C and SIGTERM into a cancelled token (and keeps the runtime from killing the process at once), so a
/// long-running command shuts its ActorSystem down through CoordinatedShutdown: peers are stopped politely.
/// </summary>
internal sealed class ShutdownSignals : IDisposable
{
    private readonly CancellationTokenSource _cancellation;
    private readonly List<PosixSignalRegistration> _registrations = new();

    public ShutdownSignals(CancellationToken outer)
    {
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(outer);
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT })
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                // A second signal while shutting down falls through to the default: the process ends now.
                if (_cancellation.IsCancellationRequested)
                    return;
                context.Cancel = true;
                _cancellation.Cancel();
            }));
        }
    }

    public CancellationToken Token => _cancellation.Token;

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
        _cancellation.Dispose();
    }
}
