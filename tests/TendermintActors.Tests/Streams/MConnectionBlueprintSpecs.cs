using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Streams.Internal;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// One fused MConnection blueprint run for several peers, as the switch runs it: each materialisation attaches to its
/// own handover and tells its own owner, with nothing shared between them.
/// </summary>
public sealed class MConnectionBlueprintSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private static readonly ChannelDescriptor[] Channels = [new(0x42, 1)];

    private sealed record Lower(TestPublisher.Probe<ByteString> In, TestSubscriber.Probe<ByteString> Out);

    private Lower RunLower(ConnectionHandover handover)
    {
        var (input, output) = this.SourceProbe<ByteString>().Via(handover.Lower)
            .ToMaterialized(this.SinkProbe<ByteString>(), Keep.Both).Run(Materializer);
        return new Lower(input, output);
    }

    [Fact]
    public void The_blueprint_is_fused_once_so_that_materialising_it_does_not_fuse_it_again()
    {
        var blueprint = new MConnectionBlueprint(Unlimited, Channels);

        // The materializer fuses whatever is not a fused graph (Fusing.Aggressive returns a fused one as it is).
        Assert.IsType<Fusing.FusedGraph<ClosedShape, MConnectionHandle>>(blueprint.Graph);
        Assert.Same(blueprint.Graph, Fusing.Aggressive(blueprint.Graph));
    }

    [Fact]
    public void Each_materialisation_runs_over_its_own_handover_and_tells_its_own_owner()
    {
        var blueprint = new MConnectionBlueprint(Unlimited, Channels);
        var peers = Enumerable.Range(0, 2).Select(_ =>
        {
            var handover = new ConnectionHandover(prefetchBytes: 0);
            var lower = RunLower(handover);
            var owner = CreateTestProbe();
            var handle = blueprint.Run(handover, owner.Ref, Materializer);
            return (lower, owner, handle);
        }).ToArray();

        // What each remote sends reaches that peer's owner alone.
        for (var i = 0; i < peers.Length; i++)
        {
            var (lower, _, _) = peers[i];
            lower.In.ExpectRequest();
            lower.In.SendNext(PacketWire.Chunk(PacketWire.Message(0x42, [(byte)i])));
        }
        for (var i = 0; i < peers.Length; i++)
            ExpectReceived(peers[i].owner, 0x42, [(byte)i]);

        // What each handle sends leaves through that peer's handover alone.
        peers[1].handle.Send(0x42, new byte[] { 7 });
        peers[1].lower.Out.Request(1);
        var written = PacketWire.Packets(peers[1].lower.Out.ExpectNext(Timeout));
        Assert.Equal(0x42, written.Single().PacketMsg.ChannelId);
        Assert.Equal(1, peers[1].owner.ExpectMsg<MConnection.MessagesSent>(Timeout).Count);

        // Closing one ends that one: its owner hears it, the other's does not.
        peers[0].handle.Close(flushFirst: false);
        Assert.Null(peers[0].owner.ExpectMsg<MConnection.Stopped>(Timeout).Reason);
        peers[1].owner.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.False(peers[1].handle.Completion.IsCompleted);
    }
}
