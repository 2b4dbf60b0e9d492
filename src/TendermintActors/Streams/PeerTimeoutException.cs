using TendermintActors.Protocol.Errors;

namespace TendermintActors.Streams;

/// <summary>
/// The remote stopped answering within a liveness deadline; the connection is closed. <see cref="Code"/> names the
/// deadline ("timeout/pong").
/// </summary>
public sealed class PeerTimeoutException : PeerConnectionException
{
    private PeerTimeoutException(string what, string message) : base(message) => Code = "timeout/" + what;

    public override string Code { get; }

    /// <summary>A peer that went quiet is an ordinary end (Go logs it as such), not a protocol error.</summary>
    public override bool IsError => false;

    /// <summary>No <c>PacketPong</c> arrived within the pong timeout after our <c>PacketPing</c> (docs/protocol.md §5).</summary>
    public static PeerTimeoutException Pong(TimeSpan pongTimeout) =>
        new("pong", $"no pong within {pongTimeout.TotalSeconds:0.###} s of our ping");
}
