using Akka.Actor;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;
using Akka.TestKit.Xunit2;
using TendermintActors.Peers.Internal;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Switching;

/// <summary>The lean mailbox's queue on its own, then as an actor's mailbox.</summary>
public sealed class SingleConsumerUnboundedMailboxTests(ITestOutputHelper output)
    : TestKit("lean-mailbox.mailbox-type = \"TendermintActors.Peers.Internal.SingleConsumerUnboundedMailbox, TendermintActors\"", output)
{
    private static Envelope Message(object message) => new(message, ActorRefs.NoSender);

    [Fact]
    public void Messages_come_out_in_the_order_they_went_in_and_the_count_follows()
    {
        var queue = new SingleConsumerUnboundedMessageQueue();
        Assert.False(queue.HasMessages);
        Assert.False(queue.TryDequeue(out _));

        for (var i = 0; i < 100; i++)
            queue.Enqueue(ActorRefs.Nobody, Message(i));
        Assert.True(queue.HasMessages);
        Assert.Equal(100, queue.Count);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(queue.TryDequeue(out var envelope));
            Assert.Equal(i, envelope.Message);
        }
        Assert.False(queue.HasMessages);
        Assert.Equal(0, queue.Count);
        Assert.False(queue.TryDequeue(out _));
    }

    [Fact]
    public async Task Many_producers_at_once_lose_nothing_and_each_producers_messages_keep_their_order()
    {
        const int producers = 4, perProducer = 50_000;
        var queue = new SingleConsumerUnboundedMessageQueue();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            await start.Task;
            for (var i = 0; i < perProducer; i++)
                queue.Enqueue(ActorRefs.Nobody, Message((p, i)));
        })).ToArray();
        start.SetResult();

        // The one consumer takes while they produce.
        var next = new int[producers];
        var taken = 0;
        while (taken < producers * perProducer)
        {
            if (!queue.TryDequeue(out var envelope))
            {
                await Task.Yield();
                continue;
            }
            var (p, i) = ((int, int))envelope.Message;
            Assert.Equal(next[p], i);
            next[p]++;
            taken++;
        }
        await Task.WhenAll(tasks);
        Assert.All(next, n => Assert.Equal(perProducer, n));
        Assert.Equal(0, queue.Count);
        Assert.False(queue.TryDequeue(out _));
    }

    [Fact]
    public void Cleaning_up_hands_what_is_left_to_dead_letters_in_order()
    {
        var queue = new SingleConsumerUnboundedMessageQueue();
        queue.Enqueue(ActorRefs.Nobody, Message("a"));
        queue.Enqueue(ActorRefs.Nobody, Message("b"));
        var deadLetters = new UnboundedMessageQueue();

        queue.CleanUp(ActorRefs.Nobody, deadLetters);
        Assert.False(queue.HasMessages);
        Assert.True(deadLetters.TryDequeue(out var first));
        Assert.True(deadLetters.TryDequeue(out var second));
        Assert.Equal(["a", "b"], new[] { first.Message, second.Message });
    }

    [Fact]
    public void An_actor_on_the_mailbox_gets_every_message_in_order()
    {
        var echo = Sys.ActorOf(Props.Create(() => new EchoActor(TestActor)).WithMailbox("lean-mailbox"));
        for (var i = 0; i < 1000; i++)
            echo.Tell(i);
        ExpectMsg("ours");
        for (var i = 0; i < 1000; i++)
            ExpectMsg(i);
    }

    private sealed class EchoActor : ReceiveActor
    {
        private readonly IActorRef _to;

        public EchoActor(IActorRef to)
        {
            _to = to;
            ReceiveAny(message => _to.Tell(message));
        }

        // Says whether the mailbox the actor got is ours.
        protected override void PreStart() =>
            _to.Tell(((ActorCell)Context).Mailbox!.MessageQueue is SingleConsumerUnboundedMessageQueue ? "ours" : "not ours");
    }
}
