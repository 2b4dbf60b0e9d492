using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Protocol.Tests.SecretConnection;

/// <summary>
/// The receive path's buffers are held only while bytes wait in them: a connection between reads holds neither a
/// partial frame's buffer nor a plaintext buffer (docs/performance.md, "Memory per connection").
/// </summary>
public class IdleBufferTests
{
    private static byte[] Key()
    {
        var key = new byte[32];
        new Random(11).NextBytes(key);
        return key;
    }

    private static byte[] Seal(FrameSealer sealer, byte[] data)
    {
        var wire = new byte[Frame.SealedLength(data.Length)];
        sealer.Seal(data, wire);
        return wire;
    }

    [Fact]
    public void The_opener_holds_a_buffer_only_while_a_frame_is_cut_short()
    {
        var key = Key();
        using var sealer = new FrameSealer(key);
        using var opener = new FrameOpener(key);
        var buffer = new PlaintextBuffer();
        var wire = Seal(sealer, new byte[3000]);

        opener.Open(wire.AsSpan(0, 1500), buffer); // one frame and part of the next
        Assert.True(opener.HeldBufferBytes >= Frame.SealedSize);

        opener.Open(wire.AsSpan(1500), buffer); // the rest: nothing cut short any more
        Assert.Equal(0, opener.PendingBytes);
        Assert.Equal(0, opener.HeldBufferBytes);
        Assert.Equal(3000, buffer.Count);
    }

    [Fact]
    public void An_opener_that_copies_frames_out_keeps_no_scratch_frame_of_its_own()
    {
        // The handshake opens the node info into a plain buffer writer, which copies each frame's data out.
        var key = Key();
        using var sealer = new FrameSealer(key);
        using var opener = new FrameOpener(key);
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var data = Enumerable.Range(0, 2500).Select(i => (byte)i).ToArray();

        opener.Open(Seal(sealer, data), output);
        Assert.Equal(data, output.WrittenSpan.ToArray());
        Assert.False(opener.HoldsScratchFrame);
    }

    [Fact]
    public void The_plaintext_buffer_is_given_back_once_everything_pending_is_consumed()
    {
        var key = Key();
        using var sealer = new FrameSealer(key);
        using var opener = new FrameOpener(key);
        var buffer = new PlaintextBuffer();
        Assert.Equal(0, buffer.Capacity);

        var data = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        opener.Open(Seal(sealer, data), buffer);
        Assert.True(buffer.Capacity >= data.Length);

        buffer.Consume(4000); // part read: the rest stays where it is
        Assert.Equal(data.AsSpan(4000).ToArray(), buffer.Span.ToArray());
        Assert.True(buffer.Capacity > 0);

        buffer.Consume(1000);
        Assert.Equal(0, buffer.Capacity);

        // And the next frames are opened (in place) into a new one.
        opener.Open(Seal(sealer, [1, 2, 3]), buffer);
        Assert.Equal(new byte[] { 1, 2, 3 }, buffer.Span.ToArray());
    }

    [Fact]
    public void Ciphertext_that_completes_no_frame_leaves_no_plaintext_buffer_held()
    {
        var key = Key();
        using var sealer = new FrameSealer(key);
        using var opener = new FrameOpener(key);
        var buffer = new PlaintextBuffer();
        var wire = Seal(sealer, [9]);

        opener.Open(wire.AsSpan(0, 100), buffer);
        buffer.ReleaseIfEmpty();
        Assert.Equal(0, buffer.Capacity);
        opener.Open(wire.AsSpan(100), buffer);
        Assert.Equal(new byte[] { 9 }, buffer.Span.ToArray());
    }
}
