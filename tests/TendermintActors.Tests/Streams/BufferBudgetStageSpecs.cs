using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using ByteString = Akka.IO.ByteString;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The connection's part in the node's buffer budget: it reports the bytes of unfinished messages by steps (not per
/// packet), and stops reading when told to pause, until told to resume.
/// </summary>
public sealed class BufferBudgetStageSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] Channels = [new(0x02, 1)];

    private static ByteString Fragments(int count) =>
        PacketWire.Chunk(Enumerable.Range(0, count).Select(_ => PacketWire.Msg(0x02, false, new byte[1024])).ToArray());

    [Fact]
    public void Reassembly_bytes_are_reported_once_they_moved_by_a_step_and_when_they_reach_zero()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        Assert.Equal(64 * 1024, MConnection.BufferedBytesReportStep);
        RunAgainst(Unlimited with { ReportBufferedBytes = true }, Channels, owner, Writes(
            Fragments(70),                      // 71,680 bytes held: past the step, reported
            Fragments(10),                      // 81,920: 10 KiB more, not reported
            PacketWire.Chunk(PacketWire.Msg(0x02, true, new byte[1]))), remote); // the message ends: 0, reported

        Assert.Equal(71_680, owner.ExpectMsg<MConnection.BufferedBytes>(Timeout).PartialReceiveBytes);
        var message = Assert.Single(owner.ExpectMsg<MConnection.MessagesReceived>(Timeout).Messages);
        Assert.Equal(81_921, message.Message.Length);
        Assert.Equal(0, owner.ExpectMsg<MConnection.BufferedBytes>(Timeout).PartialReceiveBytes);
    }

    [Fact]
    public void Paused_reads_take_the_read_already_asked_for_then_stop_until_resumed()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var (writes, source) = Source.Queue<ByteString>(8, OverflowStrategy.Fail).PreMaterialize(Materializer);
        var handle = RunAgainst(Unlimited, Channels, owner, source, remote);
        byte[] m1 = [1], m2 = [2], m3 = [3];

        writes.OfferAsync(PacketWire.Chunk(PacketWire.Message(0x02, m1))).Wait(Timeout);
        ExpectReceived(owner, 0x02, m1);
        Assert.False(AwaitStatus(handle, owner).ReceivePaused);

        handle.PauseReads(true);
        Assert.True(AwaitStatus(handle, owner).ReceivePaused);
        writes.OfferAsync(PacketWire.Chunk(PacketWire.Message(0x02, m2))).Wait(Timeout);
        writes.OfferAsync(PacketWire.Chunk(PacketWire.Message(0x02, m3))).Wait(Timeout);
        ExpectReceived(owner, 0x02, m2); // the read asked for before the pause
        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // then none: m3 waits upstream
        Assert.True(AwaitStatus(handle, owner).ReceivePaused);

        handle.PauseReads(false);
        ExpectReceived(owner, 0x02, m3);
        Assert.False(AwaitStatus(handle, owner).ReceivePaused);
    }
}
