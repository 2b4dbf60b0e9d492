using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Protocol.Tests.MConnection;

public class ReceiveWindowTests
{
    private static ReceiveWindow Window(int messages = 4096, long bytes = 256 * 1024) =>
        new(new ChannelDescriptor(0x30, 5) { RecvBufferCapacity = messages }, bytes);

    [Fact]
    public void Fills_at_the_byte_window_with_one_message_beyond_it_at_most()
    {
        var window = Window(bytes: 10_000);
        window.Delivered(6_000);
        Assert.False(window.IsFull);
        window.Delivered(6_000); // crosses the window: delivered, then full
        Assert.True(window.IsFull);
        Assert.Equal(12_000, window.UnacknowledgedBytes);
    }

    [Fact]
    public void Held_messages_come_back_in_the_order_they_were_held()
    {
        var window = Window();
        Assert.False(window.TryTakeHeld(out _));
        byte[] a = [1], b = [2, 2];
        window.Hold(a);
        window.Hold(b);
        Assert.Equal(2, window.HeldCount);
        Assert.True(window.TryTakeHeld(out var first));
        Assert.Same(a, first);
        Assert.True(window.TryTakeHeld(out var second));
        Assert.Same(b, second);
        Assert.False(window.TryTakeHeld(out _));
        Assert.Equal(0, window.HeldCount);
    }

    [Fact]
    public void An_unused_window_counts_nothing_and_an_acknowledgement_before_any_delivery_frees_nothing()
    {
        var window = Window(bytes: 10_000);
        window.Acknowledge(3);
        Assert.Equal((0, 0L, false), (window.Unacknowledged, window.UnacknowledgedBytes, window.IsFull));
        window.Delivered(10_000);
        Assert.True(window.IsFull);
    }

    [Fact]
    public void A_message_larger_than_the_window_goes_through_alone()
    {
        var window = Window(bytes: 10_000);
        Assert.False(window.IsFull);
        window.Delivered(1_000_000);
        Assert.True(window.IsFull);
        window.Acknowledge(1);
        Assert.False(window.IsFull);
        Assert.Equal(0, window.UnacknowledgedBytes);
    }

    [Fact]
    public void Fills_at_the_channels_message_count()
    {
        var window = Window(messages: 3);
        window.Delivered(1);
        window.Delivered(1);
        Assert.False(window.IsFull);
        window.Delivered(1);
        Assert.True(window.IsFull);
        Assert.Equal(3, window.Unacknowledged);
    }

    [Fact]
    public void Acknowledgements_free_the_oldest_messages_first()
    {
        var window = Window(bytes: 10_000);
        window.Delivered(9_000);
        window.Delivered(2_000);
        Assert.True(window.IsFull);
        window.Acknowledge(1);
        Assert.Equal(2_000, window.UnacknowledgedBytes);
        Assert.False(window.IsFull);
    }

    [Fact]
    public void Acknowledging_more_than_was_delivered_does_not_lift_the_bound_for_later_messages()
    {
        var window = Window(messages: 2);
        window.Delivered(10);
        window.Acknowledge(5);
        Assert.Equal(0, window.Unacknowledged);
        window.Delivered(10);
        window.Delivered(10);
        Assert.True(window.IsFull);
    }

    [Fact]
    public void A_capacity_of_zero_still_lets_one_message_through()
    {
        var window = Window(messages: 0);
        Assert.Equal(1, window.Bound);
        Assert.False(window.IsFull);
        window.Delivered(1);
        Assert.True(window.IsFull);
    }
}
