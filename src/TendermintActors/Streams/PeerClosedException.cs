using TendermintActors.Protocol.Errors;

namespace TendermintActors.Streams;

/// <summary>
/// The remote ended its direction of the connection while our graceful close was still writing what was queued, and
/// not everything was written within one pong timeout of that: the close did not flush everything. (A remote that is closing
/// gracefully too keeps reading, and then the flush completes.) An ordinary end, not a protocol error; it is reported
/// so that whoever asked for the flush knows it did not happen.
/// </summary>
public sealed class PeerClosedException : PeerConnectionException
{
    private PeerClosedException(string message) : base(message) { }

    public override string Code => "closed/unflushed";

    public override bool IsError => false;

    /// <summary>The transport stopped taking our writes during our graceful close, <paramref name="unwrittenBytes"/> of queued messages unwritten.</summary>
    internal static PeerClosedException TransportEnded(long unwrittenBytes) =>
        new($"the connection stopped taking our writes during our graceful close ({unwrittenBytes} bytes of queued messages left)");

    /// <summary><paramref name="unwrittenBytes"/> of our queued messages were still unwritten when we gave up.</summary>
    public static PeerClosedException DuringFlush(long unwrittenBytes, TimeSpan waited) =>
        new($"the remote closed its side during our graceful close, and {waited.TotalSeconds:0.###} s later not everything " +
            $"was written ({unwrittenBytes} bytes of queued messages left)");
}
