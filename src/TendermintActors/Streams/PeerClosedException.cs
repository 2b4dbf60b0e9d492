using TendermintActors.Protocol.Errors;

namespace TendermintActors.Streams;

/// <summary>
/// The remote closed the connection while our graceful close was still writing what was queued: the close did not
/// flush everything. An ordinary end (the remote may close whenever it likes), not a protocol error; it is reported so
/// that whoever asked for the flush knows it did not happen.
/// </summary>
public sealed class PeerClosedException : PeerConnectionException
{
    private PeerClosedException(string message) : base(message) { }

    public override string Code => "closed/unflushed";

    public override bool IsError => false;

    /// <summary>The remote ended its stream with <paramref name="unwrittenBytes"/> of our queued messages not yet written.</summary>
    public static PeerClosedException DuringFlush(long unwrittenBytes) =>
        new($"the remote closed the connection before our graceful close had written everything ({unwrittenBytes} bytes of queued messages left)");
}
