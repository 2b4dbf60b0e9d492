using System.Net;
using System.Security.Cryptography;
using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.SecretConnection;
using TendermintActors.Streams;
using TendermintActors.Transport;
using TendermintActors.Transport.Internal;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Transport;

/// <summary>
/// What every <see cref="IP2PTransport"/> promises the switch, run over each transport (the classes at the end of this
/// file): bytes both ways in order, half-close in both orders, graceful and abortive close, back-pressure, binding
/// and dialling errors, unbinding, and the 10 MB SecretConnection exchange. Both ends of every connection go through
/// the transport under test. The evil-peer table (Streams/EvilPeerSpecs.cs) runs over the same three transports.
/// </summary>
public abstract class TransportConformanceSpecs(ITestOutputHelper output)
    : TestKit("akka.test.single-expect-default = 30s", output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private IP2PTransport? _transport;

    protected abstract IP2PTransport CreateTransport();

    /// <summary>
    /// Whether connections are kernel sockets, so that a listener that never answers can be staged (the in-memory
    /// transport refuses or connects at once, and has no dial timeout to observe).
    /// </summary>
    protected virtual bool UsesKernelSockets => true;

    /// <summary>
    /// Whether a dial right after unbinding is refused even while connections accepted before are open. Akka.IO's
    /// listener owns its connections, so AkkaIoTransport keeps listening (taking no one) until they have ended.
    /// </summary>
    protected virtual bool RefusesDialsAtOnceWhenUnbound => true;

    private IP2PTransport Transport => _transport ??= CreateTransport();

    private IMaterializer Materializer => Sys.Materializer();

    /// <summary>Random writes (1 byte to <paramref name="largest"/>) that add up to exactly <paramref name="total"/> bytes.</summary>
    internal static List<byte[]> RandomWrites(int total, int seed, int largest = 70_000)
    {
        var random = new Random(seed);
        var writes = new List<byte[]>();
        for (var left = total; left > 0;)
        {
            var size = Math.Min(left, random.Next(1, largest));
            var chunk = new byte[size];
            random.NextBytes(chunk);
            writes.Add(chunk);
            left -= size;
        }
        return writes;
    }

    internal static Sink<ByteString, Task<byte[]>> Collect() =>
        Sink.Aggregate<ByteString, MemoryStream>(new MemoryStream(), (ms, b) => { b.WriteTo(ms); return ms; })
            .MapMaterializedValue(t => t.ContinueWith(r => r.Result.ToArray(), TaskContinuationOptions.OnlyOnRanToCompletion));

    private static byte[] Hash(IEnumerable<byte[]> writes) => SHA256.HashData(writes.SelectMany(w => w).ToArray());

    private async Task<(TransportBinding Binding, ISinkQueue<TransportConnection> Inbound)> Listen()
    {
        var (bound, inbound) = Transport.Bind("127.0.0.1", 0)
            .ToMaterialized(Sink.Queue<TransportConnection>(), Keep.Both)
            .Run(Materializer);
        return (await bound.WaitAsync(Dilated(Timeout)), inbound);
    }

    private static int PortOf(TransportBinding binding) => ((IPEndPoint)binding.LocalAddress).Port;

    private Flow<ByteString, ByteString, Task<EndPoint>> DialTo(TransportBinding binding) =>
        Transport.Dial("127.0.0.1", PortOf(binding), Dilated(Timeout));

    /// <summary>One end of a connection: a probe that writes and a probe that reads.</summary>
    private sealed record End(TestPublisher.Probe<ByteString> Writes, TestSubscriber.Probe<ByteString> Reads);

    private End Attach<TMat>(Flow<ByteString, ByteString, TMat> flow)
    {
        var (writes, reads) = this.SourceProbe<ByteString>()
            .Via(flow)
            .ToMaterialized(this.SinkProbe<ByteString>(), Keep.Both)
            .Run(Materializer);
        return new End(writes, reads);
    }

    /// <summary>A connection from a dial to a listener, with probes at both ends.</summary>
    private async Task<(End Client, End Server, TransportBinding Binding)> Connected()
    {
        var (binding, inbound) = await Listen();
        var client = Attach(DialTo(binding));
        var accepted = (await inbound.PullAsync().WaitAsync(Dilated(Timeout))).Value;
        return (client, Attach(accepted.Flow), binding);
    }

    /// <summary>Pulls one read at a time until <paramref name="count"/> bytes have come.</summary>
    private static byte[] ReadExactly(TestSubscriber.Probe<ByteString> reads, int count)
    {
        var received = new MemoryStream();
        while (received.Length < count)
            reads.RequestNext().WriteTo(received);
        Assert.Equal(count, received.Length);
        return received.ToArray();
    }

    /// <summary>Writes each as soon as the connection asks for it, then finishes, on a thread of its own.</summary>
    private static Task WriteAll(TestPublisher.Probe<ByteString> writes, IEnumerable<byte[]> all) => Task.Run(() =>
    {
        foreach (var write in all) writes.SendNext(ByteString.FromBytes(write));
        writes.SendComplete();
    });

    private static void ExpectEnd(TestSubscriber.Probe<ByteString> reads)
    {
        reads.Request(1);
        reads.ExpectComplete();
    }

    [Fact]
    public async Task Writes_of_random_sizes_arrive_whole_and_in_order_both_ways()
    {
        var toServer = RandomWrites(3_000_000, seed: 1);
        var toClient = RandomWrites(2_000_000, seed: 2);
        var (binding, inbound) = await Listen();
        var (remote, atClient) = Source.From(toServer.Select(ByteString.FromBytes))
            .ViaMaterialized(DialTo(binding), Keep.Right)
            .ToMaterialized(Collect(), Keep.Both)
            .Run(Materializer);
        var accepted = (await inbound.PullAsync().WaitAsync(Dilated(Timeout))).Value;
        var atServer = Source.From(toClient.Select(ByteString.FromBytes)).Via(accepted.Flow).RunWith(Collect(), Materializer);

        Assert.Equal(binding.LocalAddress, await remote.WaitAsync(Dilated(Timeout)));
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)accepted.RemoteAddress).Address);
        Assert.Equal(Hash(toServer), SHA256.HashData(await atServer.WaitAsync(Dilated(Timeout))));
        Assert.Equal(Hash(toClient), SHA256.HashData(await atClient.WaitAsync(Dilated(Timeout))));
        await binding.Unbind();
    }

    [Fact]
    public async Task Finishing_our_writes_ends_the_remotes_reads_after_our_bytes_and_we_read_on_until_it_finishes()
    {
        var (client, server, binding) = await Connected();
        client.Writes.SendNext(ByteString.FromString("hello"));
        client.Writes.SendComplete();

        Assert.Equal("hello"u8.ToArray(), ReadExactly(server.Reads, 5));
        ExpectEnd(server.Reads);
        var reply = RandomWrites(1_000_000, seed: 3);
        var writing = WriteAll(server.Writes, reply); // more than the buffers on the way hold: written while read

        Assert.Equal(Hash(reply), SHA256.HashData(ReadExactly(client.Reads, 1_000_000)));
        await writing.WaitAsync(Dilated(Timeout));
        ExpectEnd(client.Reads);
        await binding.Unbind();
    }

    [Fact]
    public async Task The_remote_finishing_first_ends_our_reads_and_our_writes_still_reach_it()
    {
        var (client, server, binding) = await Connected();
        server.Writes.SendComplete();
        ExpectEnd(client.Reads);

        var late = RandomWrites(500_000, seed: 4);
        var writing = WriteAll(client.Writes, late);
        Assert.Equal(Hash(late), SHA256.HashData(ReadExactly(server.Reads, 500_000)));
        await writing.WaitAsync(Dilated(Timeout));
        ExpectEnd(server.Reads);
        await binding.Unbind();
    }

    [Fact]
    public async Task Our_end_still_follows_a_last_write_that_was_in_flight_when_the_remotes_end_arrived()
    {
        // Far more than loopback's socket buffers hold, so the write waits for the server, which does not read yet.
        const int total = 32 * 1024 * 1024;
        var (client, server, binding) = await Connected();
        var sent = new byte[total];
        new Random(7).NextBytes(sent);
        client.Writes.SendNext(ByteString.FromBytes(sent));
        client.Writes.SendComplete();

        server.Writes.SendComplete();
        ExpectEnd(client.Reads); // our side has read the remote's end, its write still waiting
        Assert.Equal(SHA256.HashData(sent), SHA256.HashData(ReadExactly(server.Reads, total)));
        ExpectEnd(server.Reads);
        await binding.Unbind();
    }

    [Fact]
    public async Task Many_small_writes_closed_right_after_the_last_all_arrive_before_the_end_both_ways()
    {
        // Each side finishes the moment its last write is handed over: a close that lost the tail would show here.
        var toServer = RandomWrites(200_000, seed: 10, largest: 100);
        var toClient = RandomWrites(200_000, seed: 11, largest: 100);
        var (binding, inbound) = await Listen();
        var atClient = Source.From(toServer.Select(ByteString.FromBytes)).Via(DialTo(binding)).RunWith(Collect(), Materializer);
        var accepted = (await inbound.PullAsync().WaitAsync(Dilated(Timeout))).Value;
        var atServer = Source.From(toClient.Select(ByteString.FromBytes)).Via(accepted.Flow).RunWith(Collect(), Materializer);

        Assert.Equal(Hash(toServer), SHA256.HashData(await atServer.WaitAsync(Dilated(Timeout))));
        Assert.Equal(Hash(toClient), SHA256.HashData(await atClient.WaitAsync(Dilated(Timeout))));
        await binding.Unbind();
    }

    [Fact]
    public async Task A_writer_that_fails_ends_the_connection_at_the_remote_with_an_error_or_its_end()
    {
        var (client, server, binding) = await Connected();
        client.Writes.SendNext(ByteString.FromString("x"));
        Assert.Equal("x"u8.ToArray(), ReadExactly(server.Reads, 1));

        var failure = new IOException("the application failed");
        client.Writes.SendError(failure);
        server.Reads.Request(1);
        // A reset (sockets) shows as an error; what a transport can only report as an end is accepted too. Either
        // way the remote learns only that the connection ended, never the writer's own exception.
        var ended = server.Reads.ExpectEvent();
        Assert.True(ended is TestSubscriber.OnError or TestSubscriber.OnComplete, $"expected the end of the connection, got {ended}");
        if (ended is TestSubscriber.OnError error)
        {
            Assert.NotSame(failure, error.Cause.GetBaseException());
            Assert.DoesNotContain("the application failed", error.Cause.ToString());
        }
        await binding.Unbind();
    }

    [Fact]
    public async Task A_reader_that_stops_pulling_stops_the_writer_after_a_bounded_amount()
    {
        const int chunk = 64 * 1024;
        const long read = 8 * 1024 * 1024;
        // Kernel buffers on both sides plus the transports' own: far below this, far below what a writer runs ahead
        // when nothing holds it back.
        const long bound = 48 * 1024 * 1024;
        var (binding, inbound) = await Listen();
        long pulled = 0;
        _ = Source.Repeat(ByteString.FromBytes(new byte[chunk]))
            .Select(b => { Interlocked.Add(ref pulled, b.Count); return b; })
            .Via(DialTo(binding))
            .RunWith(Sink.Ignore<ByteString>(), Materializer);
        var accepted = (await inbound.PullAsync().WaitAsync(Dilated(Timeout))).Value;
        var server = Attach(accepted.Flow);

        long received = 0;
        while (received < read)
            received += server.Reads.RequestNext().Count;
        // The reader stops here; whatever the writer could get rid of since is what the buffers on the way hold.
        var written = Interlocked.Read(ref pulled);
        Assert.True(written <= received + bound, $"the writer ran {written - received} bytes ahead of a reader that read {received}");
        server.Reads.Cancel();
        await binding.Unbind();
    }

    [Fact]
    public async Task Binding_an_address_in_use_fails_naming_it()
    {
        var (binding, _) = await Listen();
        var port = PortOf(binding);
        var error = await Assert.ThrowsAsync<IOException>(() =>
            Transport.Bind("127.0.0.1", port).To(Sink.Ignore<TransportConnection>()).Run(Materializer).WaitAsync(Dilated(Timeout)));
        Assert.StartsWith($"cannot listen on 127.0.0.1:{port}:", error.Message);
        await binding.Unbind();
    }

    [Fact]
    public async Task A_dial_to_a_port_where_nothing_listens_fails_naming_the_address()
    {
        var (binding, _) = await Listen();
        var port = PortOf(binding);
        await binding.Unbind().WaitAsync(Dilated(Timeout));

        var (remote, done) = Source.Never<ByteString>()
            .ViaMaterialized(Transport.Dial("127.0.0.1", port, Dilated(Timeout)), Keep.Right)
            .ToMaterialized(Sink.Ignore<ByteString>(), Keep.Both)
            .Run(Materializer);
        var error = await Assert.ThrowsAsync<IOException>(() => remote.WaitAsync(Dilated(Timeout)));
        Assert.StartsWith($"cannot dial 127.0.0.1:{port}:", error.Message);
        Assert.NotNull(await Record.ExceptionAsync(() => done.WaitAsync(Dilated(Timeout)))); // the stream fails too
    }

    [Fact]
    public async Task A_dial_that_gets_no_answer_fails_after_the_dial_timeout()
    {
        if (!UsesKernelSockets) return;
        var port = 0;
        using var unanswering = await UnansweringListener.Start(Output!, p => port = p);
        if (unanswering is null) return;

        var remote = Source.Never<ByteString>()
            .ViaMaterialized(Transport.Dial("127.0.0.1", port, TimeSpan.FromMilliseconds(200)), Keep.Right)
            .To(Sink.Ignore<ByteString>())
            .Run(Materializer);

        var error = await Assert.ThrowsAsync<IOException>(() => remote.WaitAsync(Dilated(Timeout)));
        Output!.WriteLine(error.ToString());
        Assert.Equal($"cannot dial 127.0.0.1:{port}: no connection within 0.2 s", error.Message);
    }

    [Fact]
    public async Task A_dial_by_name_resolves_it_when_run()
    {
        var (binding, inbound) = await Listen();
        if (UsesKernelSockets && !(await System.Net.Dns.GetHostAddressesAsync("localhost")).Contains(IPAddress.Loopback))
            return; // localhost does not name 127.0.0.1 here
        var host = UsesKernelSockets ? "localhost" : "127.0.0.1"; // the in-memory network keys listeners by the host string
        var client = Attach(Transport.Dial(host, PortOf(binding), Dilated(Timeout)));
        var server = Attach((await inbound.PullAsync().WaitAsync(Dilated(Timeout))).Value.Flow);

        client.Writes.SendNext(ByteString.FromString("by name"));
        Assert.Equal("by name"u8.ToArray(), ReadExactly(server.Reads, 7));
        await binding.Unbind();
    }

    [Fact]
    public async Task Unbinding_stops_new_connections_and_leaves_the_open_ones_working()
    {
        var (client, server, binding) = await Connected();
        await binding.Unbind().WaitAsync(Dilated(Timeout));
        if (RefusesDialsAtOnceWhenUnbound) await ExpectRefused(binding);

        client.Writes.SendNext(ByteString.FromString("still here"));
        Assert.Equal("still here"u8.ToArray(), ReadExactly(server.Reads, 10));
        server.Writes.SendNext(ByteString.FromString("and here"));
        Assert.Equal("and here"u8.ToArray(), ReadExactly(client.Reads, 8));

        client.Writes.SendComplete();
        server.Writes.SendComplete();
        ExpectEnd(client.Reads);
        ExpectEnd(server.Reads);
        await AwaitAssertAsync(() => ExpectRefused(binding), Dilated(Timeout)); // once its connections are done, at the latest
    }

    private async Task ExpectRefused(TransportBinding binding)
    {
        var late = Source.Never<ByteString>().ViaMaterialized(DialTo(binding), Keep.Right).To(Sink.Ignore<ByteString>()).Run(Materializer);
        var error = await Assert.ThrowsAsync<IOException>(() => late.WaitAsync(Dilated(Timeout)));
        Assert.StartsWith($"cannot dial 127.0.0.1:{PortOf(binding)}:", error.Message);
    }

    /// <summary>
    /// Two of our SecretConnections over the transport, both writing 10 MB at once. Lending hands plaintext, sealed
    /// writes and (where the transport lends them) reads on as views of reused buffers.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Ten_megabytes_each_way_at_once_through_secret_connections_arrive_intact(bool lend)
    {
        const int total = 10 * 1024 * 1024;
        using var serverKey = NodeKey.Generate();
        using var clientKey = NodeKey.Generate();
        var serverWrites = RandomWrites(total, seed: 1);
        var clientWrites = RandomWrites(total, seed: 2);
        // Sealed writes are lent only to a transport that is done with each before it pulls the next (as the peer does).
        var settings = new SecretConnectionSettings { LendPlaintext = lend, LendCiphertext = lend && Transport.TakesWritesBeforePulling };
        Flow<ByteString, ByteString, TMat> Lending<TMat>(Flow<ByteString, ByteString, TMat> flow) => lend ? flow.AddAttributes(LendReads.Attributes) : flow;

        var (binding, inbound) = await Listen();
        var (clientInfo, atClient) = Source.From(clientWrites.Select(ByteString.FromBytes))
            .ViaMaterialized(SecretConnection.Create(clientKey, settings with { ExpectedRemoteId = serverKey.Id })
                .JoinMat(Lending(DialTo(binding)), Keep.Left), Keep.Right)
            .ToMaterialized(Collect(), Keep.Both)
            .Run(Materializer);
        var accepted = (await inbound.PullAsync().WaitAsync(Dilated(Timeout))).Value;
        var app = Flow.FromSinkAndSource(Collect(), Source.From(serverWrites.Select(ByteString.FromBytes)), Keep.Left);
        var (serverInfo, atServer) = Lending(accepted.Flow)
            .JoinMaterialized(SecretConnection.Create(serverKey, settings).JoinUnderMat(app, Keep.Both), Keep.Right)
            .Run(Materializer);

        Assert.Equal(serverKey.Id, (await clientInfo.WaitAsync(Dilated(Timeout))).RemoteId);
        Assert.Equal(clientKey.Id, (await serverInfo.WaitAsync(Dilated(Timeout))).RemoteId);
        Assert.Equal(Hash(clientWrites), SHA256.HashData(await atServer.WaitAsync(Dilated(Timeout))));
        Assert.Equal(Hash(serverWrites), SHA256.HashData(await atClient.WaitAsync(Dilated(Timeout))));
        await binding.Unbind();
    }
}

public sealed class SocketTransportConformanceSpecs(ITestOutputHelper output) : TransportConformanceSpecs(output)
{
    protected override IP2PTransport CreateTransport() => new TcpTransport();
}

public sealed class AkkaIoTransportConformanceSpecs(ITestOutputHelper output) : TransportConformanceSpecs(output)
{
    protected override IP2PTransport CreateTransport() => new AkkaIoTransport();

    protected override bool RefusesDialsAtOnceWhenUnbound => false;
}

public sealed class InMemoryTransportConformanceSpecs(ITestOutputHelper output) : TransportConformanceSpecs(output)
{
    protected override IP2PTransport CreateTransport() => new InMemoryTransport(InMemoryNetwork.Create(Sys));

    protected override bool UsesKernelSockets => false;
}
