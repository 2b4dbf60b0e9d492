using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;
using TendermintActors.Streams;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using static TendermintActors.Streams.MConnection;
using ByteString = Akka.IO.ByteString;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// Slow and stalling remotes at the MConnection stage, on the test scheduler's clock: a remote that stops reading,
/// one that stops in the middle of a packet, one that never finishes a message. What bounds each, and what ends it
/// (the whole-switch cases are in Switching/SlowPeerSpecs).
/// </summary>
public sealed class SlowPeerStageSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private const int Capacity = 4096;
    private static readonly ChannelDescriptor[] Channels = [new(0x01, 1) { RecvMessageCapacity = Capacity }];
    private static readonly TimeSpan PingInterval = Unlimited.PingInterval;
    private static readonly TimeSpan PongTimeout = Unlimited.PongTimeout;

    [Fact]
    public void A_remote_that_stops_in_the_middle_of_a_packet_is_ended_by_the_pong_timeout()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var packet = PacketWire.Msg(0x01, true, Bytes(1000, 1));
        var handle = RunAgainst(Unlimited, Channels, owner, Writes(ByteString.FromBytes(packet, 0, packet.Length / 2)), remote);
        AwaitStatus(handle, owner);

        // Half a packet read does not count as life: our ping goes out, no pong can come before the packet's end.
        Clock.Advance(PingInterval);
        Assert.Equal(Packet.SumOneofCase.PacketPing, remote.ExpectMsg<Packet>(Timeout).SumCase);
        Clock.Advance(PongTimeout);
        Assert.Equal("timeout/pong", Assert.IsType<PeerTimeoutException>(owner.ExpectMsg<Stopped>(Timeout).Reason).Code);
    }

    [Fact]
    public void A_message_never_finished_is_held_only_up_to_its_channel_capacity_and_the_connection_lives_while_the_remote_answers_pings()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var (writes, source) = Source.Queue<ByteString>(8, OverflowStrategy.Fail).PreMaterialize(Materializer);
        var handle = RunAgainst(Unlimited, Channels, owner, source, remote);
        // Three fragments of a message whose last fragment never comes.
        writes.OfferAsync(PacketWire.Chunk(PacketWire.Msg(0x01, false, new byte[1000]), PacketWire.Msg(0x01, false, new byte[1000]),
            PacketWire.Msg(0x01, false, new byte[1000]))).Wait(Timeout);
        AwaitStatus(handle, owner);

        // As in Go, an unfinished message has no deadline of its own: a remote that answers our pings stays.
        for (var round = 0; round < 3; round++)
        {
            Clock.Advance(PingInterval);
            Assert.Equal(Packet.SumOneofCase.PacketPing, remote.ExpectMsg<Packet>(Timeout).SumCase);
            // Its pong, then a ping of its own, whose answer shows that the pong before it has been read.
            writes.OfferAsync(PacketWire.Chunk(PacketWire.Pong(), PacketWire.Ping())).Wait(Timeout);
            Assert.Equal(Packet.SumOneofCase.PacketPong, remote.ExpectMsg<Packet>(Timeout).SumCase);
            Clock.Advance(PongTimeout);
            AwaitStatus(handle, owner);
            Assert.False(handle.Completion.IsCompleted, $"round {round}: the connection ended");
        }
        owner.ExpectNoMsg(TimeSpan.Zero); // nothing delivered: the message is not whole

        // What it may make us hold is bounded in bytes: a fragment past the channel's capacity ends the connection.
        writes.OfferAsync(PacketWire.Chunk(PacketWire.Msg(0x01, false, new byte[1000]),
            PacketWire.Msg(0x01, false, new byte[Capacity - 4000 + 1]))).Wait(Timeout);
        var error = Assert.IsType<ProtocolViolationException>(owner.ExpectMsg<Stopped>(Timeout).Reason);
        Assert.Equal(ProtocolViolation.ReceiveCapacityExceeded, error.Reason);
    }

    [Fact]
    public void A_remote_that_stops_reading_is_ended_with_a_peer_timeout_when_a_ping_could_not_be_written_within_the_pong_timeout()
    {
        var owner = CreateTestProbe();
        var remote = CreateTestProbe();
        var gate = new GatedSink.Gate(); // never opened: the remote reads nothing, as a closed TCP window
        var handle = RunAgainst(Unlimited, Channels, owner, Writes(), GatedSink.Create(remote.Ref, gate));
        handle.Send(0x01, Bytes(1000, 2));
        AwaitStatus(handle, owner);

        Clock.Advance(PingInterval);
        AwaitStatus(handle, owner);
        Clock.Advance(PongTimeout);
        Assert.IsType<PeerTimeoutException>(owner.ExpectMsg<Stopped>(Timeout).Reason);
    }
}
