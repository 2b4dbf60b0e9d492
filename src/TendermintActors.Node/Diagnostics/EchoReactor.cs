using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Node.Diagnostics;

/// <summary><c>start --echo-channel</c>: sends every message it receives back to its sender, on the same channel.</summary>
internal sealed class EchoReactor : ReactorActor
{
    public EchoReactor()
    {
        // Send, not TrySend: an echo that waits for room paces the sender instead of dropping its messages.
        Receive<Reactor.Received>(received => received.Peer.Send(received.Channel, received.Message));
        Receive<Reactor.IEvent>(_ => { });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new EchoReactor());

    public static ChannelDescriptor Channel(byte id) => new(id, 1);
}

/// <summary><c>start --sink-channel</c>: counts the messages and bytes it receives, answering <see cref="GetCounts"/>.</summary>
internal sealed class SinkReactor : ReactorActor
{
    public sealed record GetCounts
    {
        public static readonly GetCounts Instance = new();
    }

    public sealed record Counts(long Messages, long Bytes);

    /// <summary>Answered with <see cref="Counts"/> once at least <paramref name="Messages"/> have arrived (for tests and scripts that wait on traffic).</summary>
    public sealed record AwaitMessages(long Messages);

    private readonly List<(long Messages, IActorRef ReplyTo)> _waiting = new();

    private long _messages;
    private long _bytes;

    public SinkReactor()
    {
        Receive<Reactor.Received>(received =>
        {
            _messages++;
            _bytes += received.Message.Length;
            _waiting.RemoveAll(w =>
            {
                if (w.Messages > _messages) return false;
                w.ReplyTo.Tell(new Counts(_messages, _bytes));
                return true;
            });
        });
        Receive<AwaitMessages>(wait =>
        {
            if (_messages >= wait.Messages) Sender.Tell(new Counts(_messages, _bytes));
            else _waiting.Add((wait.Messages, Sender));
        });
        Receive<Reactor.IEvent>(_ => { });
        Receive<GetCounts>(_ => Sender.Tell(new Counts(_messages, _bytes)));
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new SinkReactor());

    public static ChannelDescriptor Channel(byte id) => new(id, 1);
}
