using Google.Protobuf;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Wire;

namespace TendermintActors.Protocol.Tests.MConnection;

public class ReassemblerTests
{
    private static PacketMsg Msg(int channel, bool eof, byte[] data) => new() { ChannelId = channel, Eof = eof, Data = ByteString.CopyFrom(data) };

    [Fact]
    public void Fragments_are_joined_and_the_message_is_returned_at_eof()
    {
        var r = new Reassembler([new ChannelDescriptor(0x20, 6)]);
        Assert.Null(r.Accept(Msg(0x20, false, [1, 2, 3])));
        Assert.Equal(3, r.BufferedBytes(0x20));
        Assert.Null(r.Accept(Msg(0x20, false, [])));
        Assert.Equal([1, 2, 3, 4, 5], r.Accept(Msg(0x20, true, [4, 5])));
        Assert.Equal(0, r.BufferedBytes(0x20));
        Assert.Equal([6], r.Accept(Msg(0x20, true, [6]))); // the buffer starts afresh
    }

    [Fact]
    public void An_empty_eof_packet_is_an_empty_message()
    {
        var r = new Reassembler([new ChannelDescriptor(0x00, 1)]);
        Assert.Empty(r.Accept(Msg(0x00, true, []))!);
    }

    [Fact]
    public void Channels_reassemble_independently()
    {
        var r = new Reassembler([new ChannelDescriptor(0x01, 1), new ChannelDescriptor(0x02, 1)]);
        Assert.Null(r.Accept(Msg(0x01, false, [1])));
        Assert.Null(r.Accept(Msg(0x02, false, [2])));
        Assert.Equal([2, 22], r.Accept(Msg(0x02, true, [22])));
        Assert.Equal([1, 11], r.Accept(Msg(0x01, true, [11])));
    }

    [Fact]
    public void A_large_message_is_reassembled_up_to_its_capacity()
    {
        var r = new Reassembler([new ChannelDescriptor(0x40, 5) { RecvBufferCapacity = 16, RecvMessageCapacity = 100_000 }]);
        var expected = new byte[100_000];
        new Random(3).NextBytes(expected);
        byte[]? got = null;
        for (var offset = 0; offset < expected.Length; offset += 1000)
            got = r.Accept(0x40, offset + 1000 == expected.Length, expected.AsSpan(offset, 1000));
        Assert.Equal(expected, got);
    }

    [Theory]
    [InlineData(0x43)]
    [InlineData(-1)]
    [InlineData(256)]
    [InlineData(0x142)] // 0x42 modulo 256: must not alias channel 0x42
    [InlineData(int.MinValue)]
    public void A_packet_for_a_channel_we_do_not_have_is_a_violation(int channel)
    {
        var r = new Reassembler([new ChannelDescriptor(0x42, 1)]);
        var e = Assert.Throws<ProtocolViolationException>(() => r.Accept(Msg(channel, true, [1])));
        Assert.Equal(ProtocolViolation.UnknownChannel, e.Reason);
    }

    [Fact]
    public void A_message_exactly_at_capacity_is_accepted()
    {
        var r = new Reassembler([new ChannelDescriptor(0x01, 1) { RecvMessageCapacity = 10 }]);
        Assert.Null(r.Accept(Msg(0x01, false, new byte[6])));
        Assert.Equal(10, r.Accept(Msg(0x01, true, new byte[4]))!.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_message_over_capacity_is_a_violation_before_its_eof(bool eof)
    {
        var r = new Reassembler([new ChannelDescriptor(0x01, 1) { RecvMessageCapacity = 10 }]);
        Assert.Null(r.Accept(Msg(0x01, false, new byte[6])));
        var e = Assert.Throws<ProtocolViolationException>(() => r.Accept(Msg(0x01, eof, new byte[5])));
        Assert.Equal(ProtocolViolation.ReceiveCapacityExceeded, e.Reason);
    }

    [Fact]
    public void A_single_packet_over_capacity_is_a_violation()
    {
        var r = new Reassembler([new ChannelDescriptor(0x01, 1) { RecvMessageCapacity = 10 }]);
        var e = Assert.Throws<ProtocolViolationException>(() => r.Accept(Msg(0x01, true, new byte[11])));
        Assert.Equal(ProtocolViolation.ReceiveCapacityExceeded, e.Reason);
    }

    [Fact]
    public void Returned_messages_are_not_overwritten_by_later_ones()
    {
        // Go's "message bytes may change on next call" caveat must not apply to us: reactors keep what they get.
        var r = new Reassembler([new ChannelDescriptor(0x01, 1)]);
        r.Accept(Msg(0x01, false, [1, 1]));
        var first = r.Accept(Msg(0x01, true, [1]))!;
        r.Accept(Msg(0x01, false, [2, 2]));
        r.Accept(Msg(0x01, true, [2]));
        Assert.Equal([1, 1, 1], first);
    }

    [Fact]
    public void Fragments_of_any_size_through_either_overload_make_the_same_message()
    {
        var rng = new Random(11);
        var r = new Reassembler([new ChannelDescriptor(0x05, 1)]);
        for (var round = 0; round < 200; round++)
        {
            var fragments = Enumerable.Range(0, rng.Next(1, 40)).Select(_ =>
            {
                var f = new byte[rng.Next(3) == 0 ? rng.Next(0, 8) : rng.Next(0, 1500)];
                rng.NextBytes(f);
                return f;
            }).ToList();
            byte[]? got = null;
            for (var i = 0; i < fragments.Count; i++)
            {
                var eof = i == fragments.Count - 1;
                got = rng.Next(2) == 0 ? r.Accept(Msg(0x05, eof, fragments[i])) : r.Accept(0x05, eof, fragments[i]);
                Assert.Equal(eof, got is not null);
            }
            Assert.Equal(fragments.SelectMany(f => f).ToArray(), got);
        }
    }

    [Fact]
    public void Large_messages_back_to_back_on_two_channels_come_out_intact_while_their_copy_space_is_reused()
    {
        // 1 KiB fragments of 64 KiB messages (and some of other sizes), two channels interleaved: the arrays fragments
        // are copied into are reused from one message to the next, never while a message still holds them.
        var rng = new Random(5);
        var r = new Reassembler([new ChannelDescriptor(0x01, 1), new ChannelDescriptor(0x02, 1)]);
        var pending = new Dictionary<int, (List<byte[]> Fragments, int Next)>();
        var expected = new Dictionary<int, Queue<byte[]>> { [0x01] = new(), [0x02] = new() };
        var returned = 0;
        var scratch = new byte[8192];
        for (var step = 0; step < 3000; step++)
        {
            var channel = rng.Next(1, 3);
            if (!pending.TryGetValue(channel, out var message))
            {
                var size = rng.Next(4) == 0 ? rng.Next(1, 10_000) : 64 * 1024;
                var whole = new byte[size];
                rng.NextBytes(whole);
                expected[channel].Enqueue(whole);
                // Mostly 1 KiB fragments (a CometBFT peer's), sometimes any size up to past one copy array (4 KiB).
                message = (rng.Next(3) == 0 ? RandomCuts(rng, whole) : whole.Chunk(1024).ToList(), 0);
            }
            var eof = message.Next == message.Fragments.Count - 1;
            var fragment = message.Fragments[message.Next];
            // Through either overload; the span one from a scratch array overwritten right after, as a decoder's
            // buffer is: what the reassembler keeps must be its own copy.
            byte[]? got;
            if (rng.Next(4) == 0)
                got = r.Accept(new PacketMsg { ChannelId = channel, Eof = eof, Data = Google.Protobuf.ByteString.CopyFrom(fragment) });
            else
            {
                fragment.CopyTo(scratch, 0);
                got = r.Accept(channel, eof, scratch.AsSpan(0, fragment.Length));
                rng.NextBytes(scratch);
            }
            Assert.Equal(eof, got is not null);
            if (got is null)
                pending[channel] = (message.Fragments, message.Next + 1);
            else
            {
                pending.Remove(channel);
                Assert.Equal(expected[channel].Dequeue(), got);
                returned++;
            }
        }
        Assert.True(returned > 20, $"{returned} messages");
    }

    [Theory]
    // lengths of fragments, eof last; each message's length guesses the next one's (built in place when it matches)
    [InlineData(new[] { 1000, 1000, 500 }, new[] { 1000, 1000, 500 })] // the same length again
    [InlineData(new[] { 1000, 1000, 500 }, new[] { 1000, 700 })] // shorter
    [InlineData(new[] { 1000, 1000, 500 }, new[] { 1000, 1000, 1000 })] // longer, found only at eof
    [InlineData(new[] { 1000, 1000, 500 }, new[] { 1000, 1000, 1000, 1000, 3 })] // longer, found before eof
    [InlineData(new[] { 1000, 1000, 500 }, new[] { 2500, 0 })] // the same length, one fragment and an empty eof
    [InlineData(new[] { 1000, 1000 }, new[] { 2500, 1 })] // a first fragment longer than the guess
    [InlineData(new[] { 5, 5 }, new[] { 5, 5 }, new[] { 9, 1 }, new[] { 4, 6 }, new[] { 3, 3, 3, 1 })]
    public void Messages_of_the_last_length_or_another_come_out_intact(params int[][] messages)
    {
        var rng = new Random(3);
        var r = new Reassembler([new ChannelDescriptor(0x01, 1), new ChannelDescriptor(0x02, 1)]);
        var returned = new List<(byte[] Expected, byte[] Got)>();
        foreach (var round in new[] { 0, 1 }) // twice: the second time every first message has a guess from the last
        foreach (var lengths in messages)
        {
            var fragments = lengths.Select(n => { var f = new byte[n]; rng.NextBytes(f); return f; }).ToList();
            byte[]? got = null;
            for (var i = 0; i < fragments.Count; i++)
            {
                // a one-packet message on another channel in between changes nothing here
                Assert.Equal([7], r.Accept(0x02, true, [7]));
                got = r.Accept(0x01, i == fragments.Count - 1, fragments[i]);
                Assert.Equal(i == fragments.Count - 1, got is not null);
            }
            Assert.Equal(0, r.BufferedBytes(0x01));
            returned.Add((fragments.SelectMany(f => f).ToArray(), got!));
        }
        // Each intact, also after all the later ones, and none shares its array with another.
        Assert.All(returned, m => Assert.Equal(m.Expected, m.Got));
        Assert.Equal(returned.Count, returned.Select(m => m.Got).Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    private static List<byte[]> RandomCuts(Random rng, byte[] whole)
    {
        var cuts = new List<byte[]>();
        for (var at = 0; at < whole.Length;)
        {
            var size = Math.Min(whole.Length - at, rng.Next(1, 6000));
            cuts.Add(whole[at..(at + size)]);
            at += size;
        }
        return cuts;
    }

    [Fact]
    public void A_stream_of_empty_fragments_holds_nothing()
    {
        var r = new Reassembler([new ChannelDescriptor(0x05, 1)]);
        for (var i = 0; i < 10_000; i++)
            Assert.Null(r.Accept(Msg(0x05, false, [])));
        Assert.Equal(0, r.BufferedBytes(0x05));
        Assert.Empty(r.Accept(Msg(0x05, true, []))!);
    }
}
