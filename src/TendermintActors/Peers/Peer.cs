using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using TendermintActors.Protocol.Errors;

namespace TendermintActors.Peers;

/// <summary>Why a peer stopped: a stable <see cref="Code"/> for logs and metrics, and the error if there was one.</summary>
public sealed record PeerStopReason(string Code, string Description, Exception? Error = null)
{
    /// <summary>True when the peer broke the protocol or failed; false for ordinary ends (closed, stopped, timeouts).</summary>
    public bool IsError { get; init; }

    public static PeerStopReason Stopped(string why) => new("stopped", why);

    public static PeerStopReason Closed() => new("closed", "the remote closed the connection");

    /// <summary>
    /// The node's buffer budget (<c>max-buffered-bytes</c>) was exceeded and this peer, among those holding the most,
    /// stayed paused past <c>buffered-bytes-timeout</c>. Not an error: the peer may only be slow.
    /// </summary>
    public static PeerStopReason BudgetExceeded(long bytesHeld, TimeSpan paused) =>
        new("budget/exceeded", $"held {bytesHeld} bytes while the node's buffer budget was exceeded, paused for {paused.TotalSeconds:0.###} s");

    public static PeerStopReason FromException(Exception e) => e switch
    {
        PeerConnectionException p => new PeerStopReason(p.Code, p.Message, p) { IsError = p.IsError },
        StreamTcpException t => new PeerStopReason("transport/closed", t.Message, t),
        IOException io => new PeerStopReason("transport/closed", io.Message, io),
        // The materializer or the actor system shut down under the stream: an ordinary end, not the peer's fault.
        AbruptStageTerminationException or AbruptTerminationException =>
            new PeerStopReason("stopped", "the stream was shut down (its materializer or actor system is terminating)", e),
        _ => new PeerStopReason("error", e.Message, e) { IsError = true },
    };

    public override string ToString() => $"{Code}: {Description}";
}

/// <summary>Commands a peer's actor takes (reactors usually call <see cref="PeerHandle"/> instead).</summary>
public static class Peer
{
    public interface ICommand;

    /// <summary>Queue a message; waits up to the send timeout for room in the channel's queue.</summary>
    public sealed record Send(byte Channel, ReadOnlyMemory<byte> Message, IActorRef? ReplyTo = null, object? CorrelationId = null) : ICommand;

    /// <summary>Queue a message only if the channel's queue has room now.</summary>
    public sealed record TrySend(byte Channel, ReadOnlyMemory<byte> Message, IActorRef? ReplyTo = null, object? CorrelationId = null) : ICommand;

    /// <summary>The answer to <see cref="Send"/>/<see cref="TrySend"/>: false when the queue stayed full, the channel
    /// is unknown on either side, or the peer is stopping.</summary>
    public sealed record SendResult(byte Channel, bool Accepted, object? CorrelationId) : IDeadLetterSuppression;

    /// <summary>Asks for <see cref="Status"/>.</summary>
    public sealed record GetStatus : ICommand
    {
        public static readonly GetStatus Instance = new();
    }

    public sealed record Status(PeerHandle Peer, TimeSpan Duration, Streams.MConnection.ConnectionStatus Connection);

    /// <summary>Stop the peer; graceful stops flush queued messages first.</summary>
    public sealed record Stop(PeerStopReason Reason, bool Graceful) : ICommand;
}

/// <summary>What reactors receive, per peer in this order: added, then messages, then removed.</summary>
public static class Reactor
{
    public interface IEvent
    {
        PeerHandle Peer { get; }
    }

    public sealed record PeerAdded(PeerHandle Peer) : IEvent;

    /// <summary>
    /// A whole message from <see cref="Peer"/> on one of the reactor's channels. Call <see cref="Ack"/> once it is
    /// handled (<see cref="ReactorActor"/> does it for you): until then it counts against the channel's receive
    /// buffer, and a full buffer pauses reading from that peer (back-pressure on that peer only).
    /// </summary>
    public sealed record Received(PeerHandle Peer, byte Channel, ReadOnlyMemory<byte> Message) : IEvent
    {
        private int _acked;

        /// <summary>The connection to acknowledge to directly (its handle is thread-safe), skipping an actor hop.</summary>
        internal Streams.MConnectionHandle? Connection { get; init; }

        public void Ack()
        {
            if (Interlocked.Exchange(ref _acked, 1) != 0) return;
            if (Connection is { } connection)
                connection.Ack(Channel);
            else
                Peer.Actor.Tell(new Internal.PeerActor.Acked(Channel));
        }
    }

    public sealed record PeerRemoved(PeerHandle Peer, PeerStopReason Reason) : IEvent, IDeadLetterSuppression;
}

/// <summary>
/// Base class for reactors: acknowledges every <see cref="Reactor.Received"/> after the handler ran (or threw), so
/// the peer's receive buffer drains as fast as the reactor works.
/// </summary>
public abstract class ReactorActor : ReceiveActor
{
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        finally
        {
            (message as Reactor.Received)?.Ack();
        }
    }
}

/// <summary>
/// <see cref="ReactorActor"/> for reactors written as untyped actors (<c>OnReceive</c>, <c>Become</c> with methods):
/// every <see cref="Reactor.Received"/> is acknowledged once the handler returned (or threw). A message the handler
/// stashes is acknowledged then too: it waits in this actor's stash, no longer in the peer's receive buffer.
/// </summary>
public abstract class UntypedReactorActor : UntypedActor
{
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        finally
        {
            (message as Reactor.Received)?.Ack();
        }
    }
}
