using TendermintActors.Streams;

namespace TendermintActors.Tests.Streams;

/// <summary>The MConnection handle alone: its command queue exists only while there is something to say.</summary>
public sealed class MConnectionHandleTests
{
    [Fact]
    public void An_idle_handle_holds_no_command_queue_until_its_first_command_and_drops_it_at_the_end()
    {
        var handle = new MConnectionHandle();
        Assert.False(handle.HoldsCommandQueue);
        Assert.False(handle.TryTake(out _));

        handle.Ack(0x42);
        Assert.True(handle.HoldsCommandQueue);
        Assert.True(handle.TryTake(out var command));
        Assert.Equal(MConnectionHandle.CommandKind.Ack, command.Kind);
        Assert.Equal(0x42, command.Channel);

        // What is still queued at the end goes with the queue.
        handle.Send(0x42, new byte[1]);
        handle.Stopped(null);
        Assert.False(handle.HoldsCommandQueue);
        Assert.False(handle.TryTake(out _));
        Assert.True(handle.Completion.IsCompletedSuccessfully);

        // Later calls do nothing.
        handle.Send(0x42, new byte[1]);
        Assert.False(handle.HoldsCommandQueue);
    }
}
