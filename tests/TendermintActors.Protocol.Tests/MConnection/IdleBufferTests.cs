using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Protocol.Tests.MConnection;

/// <summary>
/// The decoder and the reassembler hold buffers only while a packet or a message is unfinished
/// (docs/performance.md, "Memory per connection").
/// </summary>
public class IdleBufferTests
{
    private static byte[] Packets(params (byte Channel, bool Eof, int Length)[] packets)
    {
        var wire = new List<byte>();
        foreach (var (channel, eof, length) in packets)
        {
            var data = new byte[length];
            new Random(length).NextBytes(data);
            var packet = new byte[PacketCodec.SizeOfPacketMsg(channel, eof, length)];
            new PacketMsgFragment(channel, eof, data).WriteTo(packet);
            wire.AddRange(packet);
        }
        return wire.ToArray();
    }

    [Fact]
    public void The_decoder_holds_a_buffer_only_while_a_packet_is_cut_short()
    {
        var decoder = new PacketDecoder(PacketCodec.MaxPacketSize(1024));
        Assert.Equal(0, decoder.HeldBufferBytes);
        var wire = Packets((0x20, true, 100), (0x20, true, 1024));
        var seen = 0;

        decoder.Decode(wire.AsSpan(0, 150), (_, _, _, _) => seen++);
        Assert.Equal(1, seen);
        Assert.True(decoder.HeldBufferBytes > 0); // the second packet's start waits for the rest

        decoder.Decode(wire.AsSpan(150), (_, _, _, data) => { seen++; Assert.Equal(1024, data.Length); });
        Assert.Equal(2, seen);
        Assert.Equal(0, decoder.BufferedBytes);
        Assert.Equal(0, decoder.HeldBufferBytes);
    }

    [Fact]
    public void The_reassembler_gives_its_pieces_back_when_a_message_completes()
    {
        var r = new Reassembler([new ChannelDescriptor(0x20, 1), new ChannelDescriptor(0x30, 1)]);
        var part = new byte[300];
        for (var i = 0; i < 40; i++) // 12,000 bytes in short fragments: copied into several 4 KiB pieces
            Assert.Null(r.Accept(0x20, eof: false, part));
        Assert.Null(r.Accept(0x30, eof: false, part));
        Assert.True(r.HeldBufferBytes(0x20) >= 12_000);

        Assert.Equal(12_001, r.Accept(0x20, eof: true, [7])!.Length);
        Assert.Equal(0, r.HeldBufferBytes(0x20));
        Assert.True(r.HeldBufferBytes(0x30) > 0); // the other channel's unfinished message keeps its piece

        Assert.Equal(301, r.Accept(0x30, eof: true, [7])!.Length);
        Assert.Equal(0, r.HeldBufferBytes(0x30));
    }
}
