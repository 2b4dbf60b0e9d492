using Akka.Actor;
using Akka.Streams;
using TendermintActors.Peers;
using TendermintActors.Protocol.Errors;
using TendermintActors.Streams;

namespace TendermintActors.Tests.Switching;

/// <summary>How an exception that ended a connection shows in logs and metrics: its code and whether it is an error.</summary>
public sealed class PeerStopReasonTests
{
    public static TheoryData<Exception, string, bool> Cases => new()
    {
        { new ProtocolViolationException(ProtocolViolation.UnknownChannel, "channel 0x7f"), "protocol/unknown-channel", true },
        { PeerTimeoutException.Pong(TimeSpan.FromSeconds(45)), "timeout/pong", false },
        { new IOException("connection reset by peer"), "transport/closed", false },
        { new StreamTcpException("the remote closed"), "transport/closed", false },
        // The system or materializer shutting down under a stream is an ordinary end, not the peer's error.
        { new AbruptTerminationException(ActorRefs.Nobody), "stopped", false },
        { new InvalidOperationException("a bug"), "error", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_exception_maps_to_a_stable_code_and_says_whether_it_is_an_error(Exception error, string code, bool isError)
    {
        var reason = PeerStopReason.FromException(error);

        Assert.Equal(code, reason.Code);
        Assert.Equal(isError, reason.IsError);
        Assert.Same(error, reason.Error);
    }
}
