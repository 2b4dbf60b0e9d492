using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Protocol.Tests.MConnection;

public class ChannelDescriptorTests
{
    [Fact]
    public void Defaults_are_those_of_go()
    {
        var d = new ChannelDescriptor(0x42, 3);
        Assert.Equal(1, d.SendQueueCapacity);
        Assert.Equal(4096, d.RecvBufferCapacity);
        Assert.Equal(22020096, d.RecvMessageCapacity);
        d.Validate();
    }

    [Theory]
    [InlineData(0, 1, 1, 1, "Priority")]
    [InlineData(-5, 1, 1, 1, "Priority")]
    [InlineData(1, 0, 1, 1, "SendQueueCapacity")]
    [InlineData(1, 1, 0, 1, "RecvBufferCapacity")]
    [InlineData(1, 1, 1, -1, "RecvMessageCapacity")]
    public void Validate_names_the_channel_and_the_field_out_of_range(int priority, int sendQueue, int recvBuffer, int recvMessage, string field)
    {
        var d = new ChannelDescriptor(0x2a, priority) { SendQueueCapacity = sendQueue, RecvBufferCapacity = recvBuffer, RecvMessageCapacity = recvMessage };
        var e = Assert.Throws<ArgumentException>(d.Validate);
        Assert.Contains("0x2a", e.Message);
        Assert.Contains(field, e.Message);
    }

    [Theory]
    [InlineData(1, 0, true)]
    [InlineData(1, 1, true)] // one being written, one waiting
    [InlineData(1, 2, false)]
    [InlineData(10, 10, true)]
    [InlineData(10, 11, false)]
    [InlineData(int.MaxValue, int.MaxValue, true)] // capacity + 1 would overflow
    public void A_send_queue_holds_its_capacity_besides_the_message_being_written(int capacity, int unsent, bool room)
    {
        Assert.Equal(room, new ChannelDescriptor(0x40, 1) { SendQueueCapacity = capacity }.HasSendRoom(unsent));
    }

    [Theory]
    [InlineData(1, 99, true)] // Go's queue of one: still room for a burst
    [InlineData(1, 100, false)]
    [InlineData(100, 100, false)]
    [InlineData(1000, 999, true)] // a larger queue: its capacity again
    [InlineData(1000, 1000, false)]
    [InlineData(int.MaxValue, int.MaxValue - 1, true)]
    [InlineData(int.MaxValue, int.MaxValue, false)]
    public void The_sends_that_may_wait_for_room_are_the_queue_capacity_again_but_at_least_a_hundred(int capacity, int waiting, bool mayWait)
    {
        Assert.Equal(mayWait, new ChannelDescriptor(0x40, 1) { SendQueueCapacity = capacity }.HasRoomToWait(waiting));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void The_scheduler_admits_exactly_what_the_descriptor_rule_allows(int capacity)
    {
        var descriptor = new ChannelDescriptor(0x40, 1) { SendQueueCapacity = capacity };
        var scheduler = new SendScheduler([descriptor]);
        var unsent = 0;
        // Fill the queue, then send packets (each message is one packet) and fill it again: the rule and the
        // scheduler agree at every count, with a message being written or none.
        for (var round = 0; round < 2; round++)
        {
            while (scheduler.CanEnqueue(0x40))
            {
                Assert.True(descriptor.HasSendRoom(unsent));
                Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(0x40, new byte[10]));
                unsent++;
            }
            Assert.False(descriptor.HasSendRoom(unsent));
            Assert.Equal(capacity + 1, unsent);
            while (scheduler.TryNextPacket(out _))
            {
                unsent--;
                Assert.Equal(descriptor.HasSendRoom(unsent), scheduler.CanEnqueue(0x40));
            }
            Assert.Equal(0, unsent);
        }
    }

    [Fact]
    public void A_set_with_a_duplicate_id_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => ChannelDescriptor.ValidateSet([new(0x20, 1), new(0x21, 1), new(0x20, 2)]));
        Assert.Contains("0x20", e.Message);
    }

    [Fact]
    public void Standard_channels_are_those_of_cometbft()
    {
        (byte Id, int Priority, int SendQueue)[] expected =
        [
            (0x00, 1, 10), (0x20, 6, 1), (0x21, 10, 1), (0x22, 7, 1), (0x23, 1, 1),
            (0x30, 5, 1), (0x38, 6, 1), (0x40, 5, 1000), (0x60, 5, 1), (0x61, 3, 1),
        ];
        Assert.Equal(expected, StandardChannels.All.Select(c => (c.Id, c.Priority, c.SendQueueCapacity)));
        Assert.Equal(256 * 250, StandardChannels.Pex.RecvMessageCapacity);
        Assert.Equal(StandardChannels.Ids.BlockSync, StandardChannels.BlockSync.Id);
        ChannelDescriptor.ValidateSet(StandardChannels.All);
    }

    [Fact]
    public void A_standard_descriptor_can_be_tuned_with_with()
    {
        var data = StandardChannels.ConsensusData with { SendQueueCapacity = 100, RecvMessageCapacity = 1 << 20 };
        Assert.Equal((byte)0x21, data.Id);
        Assert.Equal(10, data.Priority);
        Assert.Equal(1, StandardChannels.ConsensusData.SendQueueCapacity);
    }
}
