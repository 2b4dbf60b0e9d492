using Akka.Streams;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using ByteString = Akka.IO.ByteString;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// An idle connection's stages hold no write buffers: the MConnection's lent output buffer goes back to the pool once
/// downstream has pulled again with nothing more to write (observed through <see cref="MConnectionOutputProbe"/>), and
/// the SecretConnection's sealed-write writer gives back its spare (docs/performance.md, "Memory per connection").
/// </summary>
public sealed class IdleBufferSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] Channels = [new(0x20, 1) { SendQueueCapacity = 8 }];

    [Fact]
    public void The_lent_output_buffer_is_returned_once_downstream_is_done_and_nothing_is_pending()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var gate = new GatedSink.Gate();
        var probe = new MConnectionOutputProbe();
        Writes().ViaMaterialized(
                MConnection.Create(Unlimited with { LendOutput = true }, Channels, owner).AddAttributes(new Attributes(probe)),
                Akka.Streams.Dsl.Keep.Right)
            .To(GatedSink.Create(remote, gate))
            .Run(Materializer).Send(0x20, "hello"u8.ToArray());
        Assert.Equal(0, probe.Rents); // nothing written before downstream asks

        gate.Request();
        remote.ExpectMsg<ByteString>(Timeout);
        // Written and not yet taken back (downstream has not pulled again): still held.
        Assert.Equal((1, 0), (probe.Rents, probe.Returns));
        Assert.True(probe.HeldBytes >= Unlimited.MaxWriteBatchBytes);

        gate.Request(); // done with it, and nothing more to write
        AwaitAssert(() => Assert.Equal((1, 1, 0), (probe.Rents, probe.Returns, probe.HeldBytes)), Timeout);
    }

    [Fact]
    public void Writes_that_follow_each_other_keep_the_output_buffer_between_them()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var gate = new GatedSink.Gate();
        var probe = new MConnectionOutputProbe();
        var handle = Writes().ViaMaterialized(
                MConnection.Create(Unlimited with { LendOutput = true }, Channels, owner).AddAttributes(new Attributes(probe)),
                Akka.Streams.Dsl.Keep.Right)
            .To(GatedSink.Create(remote, gate))
            .Run(Materializer);
        handle.Send(0x20, "one"u8.ToArray());
        gate.Request();
        remote.ExpectMsg<ByteString>(Timeout);
        owner.ExpectMsg<MConnection.MessagesSent>(Timeout);
        handle.Send(0x20, "two"u8.ToArray());
        AwaitStatus(handle, owner); // the second message is queued behind the write downstream still holds

        gate.Request(); // pulled with a message pending: written into the same buffer
        remote.ExpectMsg<ByteString>(Timeout);
        Assert.Equal((1, 0), (probe.Rents, probe.Returns));
    }

    [Fact]
    public void The_sealed_write_writer_gives_its_spare_back_when_released()
    {
        var writer = new ByteStringWriter(16);
        writer.Write([1, 2, 3]);
        writer.Lend();
        writer.Reclaim(); // kept as the spare, for the next write
        Assert.True(writer.HeldBytes > 0);
        writer.ReleaseSpare();
        Assert.Equal(0, writer.HeldBytes);
        writer.Write([4]);
        Assert.Equal(new byte[] { 4 }, writer.Lend().ToArray());
    }
}
