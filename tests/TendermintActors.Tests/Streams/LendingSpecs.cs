using Akka.IO;
using TendermintActors.Streams.Internal;
using TendermintActors.Transport;

namespace TendermintActors.Tests.Streams;

/// <summary>The buffer lending between a connection's stages: the writer's rotation, and what TCP lending rests on.</summary>
public sealed class LendingSpecs
{
    [Fact]
    public void A_lent_buffer_is_not_written_again_until_it_is_reclaimed()
    {
        var writer = new ByteStringWriter(16);
        writer.Write([1, 2, 3]);
        var first = writer.Lend();
        // Written meanwhile: goes to another array, and the lent bytes stay as they were.
        writer.Write([4, 5]);
        Assert.Throws<InvalidOperationException>(() => writer.Lend()); // one out at a time
        writer.Reclaim();
        var second = writer.Lend();
        Assert.Equal(new byte[] { 4, 5 }, second.ToArray());
        Assert.Equal(new byte[] { 1, 2, 3 }, first.ToArray());
    }

    [Fact]
    public void A_reclaimed_buffer_is_reused_and_one_too_small_for_a_write_is_passed_over()
    {
        var writer = new ByteStringWriter(4);
        writer.Write([1, 2, 3, 4]);
        var first = writer.Lend();
        writer.Reclaim();
        writer.Write([9, 9]);
        var reused = writer.Lend();
        // The same array: the reclaimed one took the next write (the first view now shows it).
        Assert.Equal(new byte[] { 9, 9, 3, 4 }, first.ToArray());
        Assert.Equal(new byte[] { 9, 9 }, reused.ToArray());
        writer.Reclaim();

        var large = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        writer.Write(large); // larger than the spare: a new array, the spare left alone
        Assert.Equal(large, writer.Lend().ToArray());
        Assert.Equal(new byte[] { 9, 9 }, reused.ToArray());
    }

    [Fact]
    public void A_lent_buffer_much_larger_than_recent_writes_is_not_kept()
    {
        var writer = new ByteStringWriter(4) { NextCapacity = 4 };
        writer.Write(new byte[100]);
        var large = writer.Lend();
        writer.Reclaim(); // 100 bytes against writes of 4: dropped
        writer.Write([5]);
        Assert.Equal(new byte[100], large.ToArray()); // not reused: still the zeros written
    }

    [Fact]
    public void Reclaiming_with_nothing_lent_and_lending_nothing_change_nothing()
    {
        var writer = new ByteStringWriter(8);
        writer.Reclaim();
        Assert.True(writer.Lend().IsEmpty);
        writer.Write([7]);
        Assert.Equal(new byte[] { 7 }, writer.Lend().ToArray());
    }

    [Fact]
    public void Tcp_transport_takes_each_write_before_pulling_and_the_in_memory_one_does_not()
    {
        // TcpTransport's connection stage pulls the next write only once the socket has taken the last one (the lend
        // theories in SecretConnectionLoopbackSpecs run over it and fail if it pulled earlier).
        using var system = Akka.Actor.ActorSystem.Create("lending-specs");
        Assert.True(((IP2PTransport)new TcpTransport()).TakesWritesBeforePulling);
        // The in-memory transport queues what it is given and pulls at once: lending would hand it live buffers.
        Assert.False(((IP2PTransport)new InMemoryTransport(InMemoryNetwork.Create(system))).TakesWritesBeforePulling);
    }
}
