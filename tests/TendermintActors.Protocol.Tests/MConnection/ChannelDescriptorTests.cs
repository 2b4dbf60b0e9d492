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
