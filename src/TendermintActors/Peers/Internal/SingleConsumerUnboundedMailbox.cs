using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace TendermintActors.Peers.Internal;

/// <summary>
/// An unbounded mailbox for actors that are idle most of their life, as a node's peers and their stream interpreters
/// are: its queue holds one 40-byte node when empty, where Akka's default (<see cref="UnboundedMailbox"/>, over a
/// <see cref="System.Collections.Concurrent.ConcurrentQueue{T}"/>) keeps a 32-slot segment, ~1 KiB per actor, from
/// its first message on. Each message costs a node of its own instead (32 bytes, collected young).
/// Akka's (JVM) <c>SingleConsumerOnlyUnboundedMailbox</c> is the same queue. Select it with
/// <c>mailbox-type = "TendermintActors.Peers.Internal.SingleConsumerUnboundedMailbox, TendermintActors"</c>
/// (for every actor: <c>akka.actor.default-mailbox.mailbox-type</c>); not for a balancing dispatcher, whose actors
/// share one queue.
/// </summary>
internal sealed class SingleConsumerUnboundedMailbox : MailboxType, IProducesMessageQueue<SingleConsumerUnboundedMessageQueue>
{
    public SingleConsumerUnboundedMailbox(Settings settings, Config config) : base(settings, config)
    {
    }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new SingleConsumerUnboundedMessageQueue();
}

/// <summary>
/// Dmitry Vyukov's intrusive multi-producer single-consumer queue: producers swap themselves in at the head and then
/// link the node they displaced to theirs; the one consumer (an actor's mailbox runs on one thread at a time) follows
/// the links from a stub node. A node that a producer has swapped in but not linked yet is not seen until it is
/// linked (its producer then schedules the mailbox, and <see cref="HasMessages"/> counts it meanwhile), so no message
/// is lost or reordered.
/// </summary>
internal sealed class SingleConsumerUnboundedMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
{
    private sealed class Node
    {
        public Envelope Envelope;
        public Node? Next;
    }

    private Node _head; // the newest node: producers swap here
    private Node _tail; // the stub before the oldest message: the consumer's alone
    private int _count; // enqueued (counted before they are linked) and not yet taken

    public SingleConsumerUnboundedMessageQueue() => _head = _tail = new Node();

    public bool HasMessages => Volatile.Read(ref _count) > 0;

    public int Count => Volatile.Read(ref _count);

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        var node = new Node { Envelope = envelope };
        Interlocked.Increment(ref _count);
        var previous = Interlocked.Exchange(ref _head, node);
        Volatile.Write(ref previous.Next, node);
    }

    public bool TryDequeue(out Envelope envelope)
    {
        var next = Volatile.Read(ref _tail.Next);
        if (next is null)
        {
            envelope = default;
            return false;
        }
        envelope = next.Envelope;
        next.Envelope = default; // the node becomes the stub: it must not keep the message alive
        _tail = next;
        Interlocked.Decrement(ref _count);
        return true;
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        while (TryDequeue(out var envelope))
            deadletters.Enqueue(owner, envelope);
    }
}
