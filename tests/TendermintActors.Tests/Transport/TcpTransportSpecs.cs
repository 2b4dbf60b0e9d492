using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit.Xunit2;
using TendermintActors.Transport;
using TendermintActors.Transport.Internal;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Transport;

/// <summary>
/// The TCP transport's own stages against plain sockets on loopback, for what is particular to them: gathered writes,
/// closing (draining, the close timeout, shutdown after our FIN), resets, dials given up or spread over a name's
/// addresses, the dual-stack listener, accept errors, the unsent limit, and reads copied unless lent. What every
/// transport promises is in TransportConformanceSpecs.cs.
/// </summary>
public sealed class TcpTransportSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TcpTransport _transport = new();

    private static Socket Listen(int backlog = 16)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(backlog);
        return listener;
    }

    private static int PortOf(Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    /// <summary>Dials a plain socket with a connection that writes nothing and gives what it reads to the sink.</summary>
    private async Task<(T Received, Socket Server)> DialQuietly<T>(Sink<ByteString, T> sink, Attributes? attributes = null)
    {
        using var listener = Listen();
        var accepting = listener.AcceptAsync();
        var dial = _transport.Dial("127.0.0.1", PortOf(listener), Timeout);
        var received = Source.Never<ByteString>().Via(attributes is null ? dial : dial.AddAttributes(attributes)).RunWith(sink, Sys.Materializer());
        return (received, await accepting.WaitAsync(Dilated(Timeout)));
    }

    private static async Task<byte[]> ReadToEnd(Socket socket)
    {
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            received.Write(buffer, 0, n);
        return received.ToArray();
    }

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task A_write_made_of_several_arrays_goes_out_whole_and_in_order()
    {
        // ByteStrings concatenated without a copy: the stage hands the socket their arrays as one gathered write.
        using var listener = Listen();
        var accepting = listener.AcceptAsync();
        var parts = Enumerable.Range(0, 5).Select(i => RandomBytes(10_000 + i, seed: i)).ToArray();
        var write = parts.Skip(1).Aggregate(ByteString.FromBytes(parts[0]), (all, p) => all.Concat(ByteString.FromBytes(p)));
        Assert.Equal(5, TransportStageAccess.SegmentCount(write));

        _ = Source.Single(write).Via(_transport.Dial("127.0.0.1", PortOf(listener), Timeout)).RunWith(Sink.Ignore<ByteString>(), Sys.Materializer());
        using var server = await accepting.WaitAsync(Dilated(Timeout));
        Assert.Equal(parts.SelectMany(p => p).ToArray(), await ReadToEnd(server).WaitAsync(Dilated(Timeout)));
    }

    [Fact]
    public async Task Stopped_from_outside_after_our_fin_the_connection_still_delivers_what_it_wrote()
    {
        // As at node shutdown: the peer's stream has finished writing (the socket took it all, the FIN is out) when the
        // actor system stops the stream. Part of what we wrote still waits in our send queue because the remote reads
        // slowly (a small receive buffer); a reset would drop it, a close lets the kernel deliver it.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var accepting = listener.AcceptAsync();
        var materializer = Sys.Materializer();
        var sent = RandomBytes(WriteSize, seed: 8);
        var written = new TaskCompletionSource();
        IEnumerable<ByteString> OneWrite()
        {
            yield return ByteString.FromBytes(sent);
            written.TrySetResult(); // pulled again: the socket has taken the write; completing now sends our FIN
        }
        var done = Source.From(OneWrite())
            .ViaMaterialized(_transport.Dial("127.0.0.1", PortOf(listener), Timeout).WatchTermination(Keep.Right), Keep.Right)
            .To(Sink.Ignore<ByteString>())
            .Run(materializer);
        using var server = await accepting.WaitAsync(Dilated(Timeout));
        await written.Task.WaitAsync(Dilated(Timeout));
        Output.WriteLine($"queued at the remote before the stop: {server.Available} of {sent.Length}");

        materializer.Shutdown();
        await Record.ExceptionAsync(() => done.WaitAsync(Dilated(Timeout))); // wait until stopped (it may fail or not)
        Assert.Equal(sent, await ReadToEnd(server).WaitAsync(Dilated(Timeout)));
    }

    private const int WriteSize = 32 * 1024;

    [Fact]
    public async Task A_connection_counts_as_unfinished_from_its_connect_until_its_fin_is_out_not_until_the_remotes()
    {
        // What a switch's shutdown waits for: stopping the stream before our FIN is out resets the connection (above,
        // after it, the kernel delivers what we wrote). The remote reads nothing at first, and the write is more than
        // the kernel takes for it (twice the most our send buffer grows to, and at least 8 MiB; its receive window is
        // 4 KiB): the write, and the FIN after it, wait for the remote to read.
        var unfinished = new UnfinishedSockets();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var accepting = listener.AcceptAsync();
        var sent = RandomBytes(Math.Max(8 * 1024 * 1024, 2 * MostSendBuffer()), seed: 9);
        var done = Source.Single(ByteString.FromBytes(sent))
            .ViaMaterialized(_transport.Dial("127.0.0.1", PortOf(listener), Timeout).AddAttributes(Attributes.None.And(unfinished))
                .WatchTermination(Keep.Right), Keep.Right)
            .To(Sink.Ignore<ByteString>())
            .Run(Sys.Materializer());
        using var server = await accepting.WaitAsync(Dilated(Timeout));
        AwaitAssert(() => Assert.Equal(1, unfinished.Count), Dilated(Timeout));
        var none = unfinished.WhenNone();
        Assert.False(none.IsCompleted);

        Assert.Equal(sent, await ReadToEnd(server).WaitAsync(Dilated(Timeout))); // then our FIN
        await none.WaitAsync(Dilated(Timeout));
        Assert.Equal(0, unfinished.Count);
        // Counted out at our FIN: the stage itself still waits for the remote's.
        Assert.False(done.IsCompleted);
        server.Shutdown(SocketShutdown.Send);
        await done.WaitAsync(Dilated(Timeout));
        Assert.Equal(0, unfinished.Count);
    }

    /// <summary>The most a socket's send buffer grows to (Linux: tcp_wmem's maximum); 4 MiB where it cannot be read.</summary>
    private static int MostSendBuffer()
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/tcp_wmem").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return (int)Math.Min(int.MaxValue / 4, long.Parse(fields[^1]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 4 * 1024 * 1024;
        }
    }

    [Fact]
    public async Task A_reset_connection_no_longer_counts_as_unfinished()
    {
        var unfinished = new UnfinishedSockets();
        using var listener = Listen();
        var accepting = listener.AcceptAsync();
        var (killSwitch, done) = Source.Never<ByteString>()
            .Via(_transport.Dial("127.0.0.1", PortOf(listener), Timeout).AddAttributes(Attributes.None.And(unfinished)))
            .ViaMaterialized(KillSwitches.Single<ByteString>(), Keep.Right)
            .ToMaterialized(Sink.Ignore<ByteString>(), Keep.Both)
            .Run(Sys.Materializer());
        using var server = await accepting.WaitAsync(Dilated(Timeout));
        AwaitAssert(() => Assert.Equal(1, unfinished.Count), Dilated(Timeout));

        killSwitch.Abort(new IOException("stopped"));
        Assert.NotNull(await Record.ExceptionAsync(() => done.WaitAsync(Dilated(Timeout)))); // failed: the stage reset it
        await unfinished.WhenNone().WaitAsync(Dilated(Timeout));
    }

    [Fact]
    public async Task Data_for_a_read_that_waited_when_reading_stopped_is_dropped_and_the_writes_go_on_to_a_clean_close()
    {
        using var listener = Listen();
        var accepting = listener.AcceptAsync();
        var ((queue, ended), readSide) = Source.Queue<ByteString>(4, OverflowStrategy.Backpressure)
            .ViaMaterialized(_transport.Dial("127.0.0.1", PortOf(listener), Timeout).WatchTermination(Keep.Right), Keep.Both)
            .ViaMaterialized(KillSwitches.Single<ByteString>(), Keep.Both)
            .To(Sink.Ignore<ByteString>())
            .Run(Sys.Materializer());
        using var server = await accepting.WaitAsync(Dilated(Timeout));
        Assert.True(await queue.OfferAsync(ByteString.FromString("before")) is QueueOfferResult.Enqueued);
        Assert.Equal("before"u8.ToArray(), await ReadExactly(server, 6).WaitAsync(Dilated(Timeout)));

        readSide.Shutdown(); // stops reading while the stage's read waits for data
        await server.SendAsync("ignored"u8.ToArray(), SocketFlags.None); // completes that read: for no one now
        Assert.True(await queue.OfferAsync(ByteString.FromString("after")) is QueueOfferResult.Enqueued);
        queue.Complete();

        Assert.Equal("after"u8.ToArray(), await ReadToEnd(server).WaitAsync(Dilated(Timeout))); // then our FIN, no reset
        await ended.WaitAsync(Dilated(Timeout)); // completed, not failed
    }

    private static async Task<byte[]> ReadExactly(Socket socket, int count)
    {
        var bytes = new byte[count];
        for (var read = 0; read < count;)
        {
            var n = await socket.ReceiveAsync(bytes.AsMemory(read), SocketFlags.None);
            if (n == 0) throw new EndOfStreamException($"{read} of {count} bytes before the end");
            read += n;
        }
        return bytes;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_stages_own_kill_switch_resets_the_connection_and_fails_the_stream_with_its_reason(bool beforeItStarts)
    {
        using var listener = Listen();
        var accepting = listener.AcceptAsync();
        var killSwitch = new SocketConnectionStage.KillSwitch();
        var reason = new IOException("killed");
        if (beforeItStarts) killSwitch.Abort(reason);
        var (connected, done) = Source.Never<ByteString>()
            .ViaMaterialized(Flow.FromGraph(new SocketConnectionStage(SocketTarget.Dial("127.0.0.1", PortOf(listener), Timeout)))
                .AddAttributes(new Attributes(killSwitch)), Keep.Right)
            .ToMaterialized(Sink.Ignore<ByteString>(), Keep.Both)
            .Run(Sys.Materializer());
        if (beforeItStarts)
        {
            // It never dials.
            Assert.Same(reason, await Assert.ThrowsAsync<IOException>(() => done.WaitAsync(Dilated(Timeout))));
            Assert.False(accepting.IsCompleted);
            return;
        }
        using var server = await accepting.WaitAsync(Dilated(Timeout));
        await connected.WaitAsync(Dilated(Timeout));
        killSwitch.Abort(reason);
        Assert.Same(reason, await Assert.ThrowsAsync<IOException>(() => done.WaitAsync(Dilated(Timeout))));
        // The reset shows at the remote as the socket's pending error (ECONNRESET).
        AwaitCondition(() => (SocketError)(int)server.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)! == SocketError.ConnectionReset,
            Dilated(Timeout));
    }

    [Fact]
    public async Task A_last_write_that_a_remote_never_takes_is_given_up_after_the_close_timeout()
    {
        // Nothing more to read (downstream cancelled) or to write (upstream finished) but one write that a remote
        // with a small window never reads: the connection is reset after the flush timeout, not kept forever.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var server = await listener.AcceptAsync(); // never reads

        Source.Single(ByteString.FromBytes(new byte[16 * 1024 * 1024]))
            .Via(new SocketConnectionStage(client, server.LocalEndPoint!, closeTimeout: TimeSpan.FromMilliseconds(300)))
            .RunWith(Sink.Cancelled<ByteString>(), Sys.Materializer());

        // The reset shows at the remote as the socket's pending error (ECONNRESET); nothing else is left to observe.
        AwaitCondition(() => (SocketError)(int)server.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)! == SocketError.ConnectionReset,
            Dilated(Timeout));
    }

    [Fact]
    public async Task After_reading_stopped_closing_drains_until_the_remotes_fin_so_the_remote_sees_no_reset()
    {
        // A peer stopped gracefully: our last bytes and FIN go out, nothing reads any more, and the remote still sends
        // (gossip in flight) before it closes in turn. Closing on those unread bytes would answer them with a reset.
        using var listener = Listen();
        var accepting = listener.AcceptAsync();
        Source.Single(ByteString.FromString("bye"))
            .Via(_transport.Dial("127.0.0.1", PortOf(listener), Timeout))
            .RunWith(Sink.Cancelled<ByteString>(), Sys.Materializer());
        using var server = await accepting.WaitAsync(Dilated(Timeout));
        Assert.Equal("bye"u8.ToArray(), await ReadToEnd(server).WaitAsync(Dilated(Timeout)));

        await server.SendAsync(RandomBytes(200_000, seed: 9), SocketFlags.None);
        server.Shutdown(SocketShutdown.Send);
        // A reset would show here as an error; a drained, closed connection reads as its end once more.
        Assert.Equal(0, await server.ReceiveAsync(new byte[16], SocketFlags.None).WaitAsync(Dilated(Timeout)));
        Assert.Equal(0, (int)server.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!);
    }

    [Fact]
    public async Task A_reset_from_the_remote_fails_the_stream_with_an_IOException()
    {
        var (received, server) = await DialQuietly(Sink.Ignore<ByteString>());
        server.LingerState = new LingerOption(true, 0);
        server.Dispose(); // linger zero: RST

        var error = await Assert.ThrowsAsync<IOException>(() => received.WaitAsync(Dilated(Timeout)));
        // Mostly on a read; when the reset beats our setting up the socket, there, or even the end of the connect.
        Assert.Matches("^(read failed|connection failed|cannot dial 127\\.0\\.0\\.1:[0-9]+): ", error.Message);
        Assert.IsType<SocketException>(error.InnerException);
    }

    [Fact]
    public async Task A_name_whose_first_address_never_answers_leaves_the_next_address_its_share_of_the_dial_timeout()
    {
        if (!OperatingSystem.IsLinux()) return; // all of 127.0.0.0/8 is loopback on Linux
        using var answering = Listen();
        var port = PortOf(answering);
        var silent = IPAddress.Parse("127.0.0.2");
        IDisposable? unanswering;
        try
        {
            unanswering = await UnansweringListener.Start(Output!, _ => { }, silent, port);
        }
        catch (SocketException e)
        {
            Output.WriteLine($"cannot listen on {silent}: {e.Message}; nothing to dial");
            return;
        }
        using var _ = unanswering;
        if (unanswering is null) return;
        var accepting = answering.AcceptAsync();
        Task<IPAddress[]> Resolve(string name, CancellationToken __) =>
            Task.FromResult(name == "two.example" ? new[] { silent, IPAddress.Loopback } : []);

        // The stage's timer ends the whole dial after 4 s: had the first address taken it all, the dial would fail.
        var remote = Source.Never<ByteString>()
            .ViaMaterialized(Flow.FromGraph(new SocketConnectionStage("two.example", port, TimeSpan.FromSeconds(4), Resolve)), Keep.Right)
            .To(Sink.Ignore<ByteString>())
            .Run(Sys.Materializer());

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), await remote.WaitAsync(Dilated(Timeout)));
        using var server = await accepting.WaitAsync(Dilated(Timeout));
    }

    [Fact]
    public async Task A_connection_given_up_both_ways_while_it_dials_ends_at_once()
    {
        // Nothing to write and no one to read before the dial is through: the dial is dropped, not waited out.
        var port = 0;
        using var unanswering = await UnansweringListener.Start(Output!, p => port = p);
        if (unanswering is null) return;

        var remote = Source.Empty<ByteString>()
            .ViaMaterialized(_transport.Dial("127.0.0.1", port, TimeSpan.FromMinutes(5)), Keep.Right)
            .To(Sink.Cancelled<ByteString>())
            .Run(Sys.Materializer());

        var error = await Assert.ThrowsAsync<IOException>(() => remote.WaitAsync(Dilated(Timeout)));
        Assert.Equal($"cannot dial 127.0.0.1:{port}: the connection was stopped before it was made", error.Message);
    }

    [Fact]
    public async Task Listening_on_the_IPv6_any_address_takes_IPv4_peers_too_and_reports_them_as_IPv4()
    {
        if (!Socket.OSSupportsIPv6) return;
        var inbound = new TaskCompletionSource<EndPoint>();
        var binding = await _transport.Bind("::", 0)
            .To(Sink.ForEach<TransportConnection>(c => inbound.TrySetResult(c.RemoteAddress)))
            .Run(Sys.Materializer());
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)binding.LocalAddress).Port);

        var remote = (IPEndPoint)await inbound.Task.WaitAsync(Dilated(Timeout));
        Assert.Equal(IPAddress.Loopback, remote.Address); // not ::ffff:127.0.0.1
        Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, remote.Port);
        await binding.Unbind();
    }

    [Fact]
    public async Task The_listener_goes_on_accepting_after_connections_reset_while_waiting_to_be_accepted()
    {
        var gate = new TaskCompletionSource();
        var (bindingTask, inbound) = _transport.Bind("127.0.0.1", 0)
            .SelectAsync(1, async c => { await gate.Task; return c; }) // holds the first, so the rest wait in the backlog
            .ToMaterialized(Sink.Queue<TransportConnection>(), Keep.Both)
            .Run(Sys.Materializer());
        var binding = await bindingTask.WaitAsync(Dilated(Timeout));
        var port = ((IPEndPoint)binding.LocalAddress).Port;

        for (var i = 0; i < 3; i++)
        {
            var doomed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await doomed.ConnectAsync(IPAddress.Loopback, port);
            doomed.LingerState = new LingerOption(true, 0);
            doomed.Dispose(); // reset before the listener takes it
        }
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, port);
        var clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
        gate.SetResult();

        while (true)
        {
            var connection = (await inbound.PullAsync().WaitAsync(Dilated(Timeout))).Value;
            var echo = Flow.Create<ByteString>().Join(connection.Flow);
            if (((IPEndPoint)connection.RemoteAddress).Port != clientPort)
            {
                echo.Run(Sys.Materializer()); // a reset one: its stream fails on its own
                continue;
            }
            echo.Run(Sys.Materializer());
            break;
        }
        await client.SendAsync("accepted"u8.ToArray(), SocketFlags.None);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("accepted"u8.ToArray(), await ReadToEnd(client).WaitAsync(Dilated(Timeout)));
        await binding.Unbind();
    }

    /// <summary>An accept that fails with each of <paramref name="errors"/> in turn (at once), then accepts for real.</summary>
    private static Func<Socket, SocketAsyncEventArgs, bool> FailingAccept(params SocketError[] errors)
    {
        var failures = new Queue<SocketError>(errors);
        return (listener, args) =>
        {
            if (!failures.TryDequeue(out var error))
                return listener.AcceptAsync(args);
            args.SocketError = error;
            return false;
        };
    }

    /// <summary>Connects a client to the listener and checks, with an echo, that the listener handed its connection on.</summary>
    private async Task AcceptedAndEchoed(Task<TransportBinding> bindingTask, ISinkQueue<TransportConnection> inbound)
    {
        var binding = await bindingTask.WaitAsync(Dilated(Timeout));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(binding.LocalAddress);
        var connection = (await inbound.PullAsync().WaitAsync(Dilated(Timeout))).Value;
        Flow.Create<ByteString>().Join(connection.Flow).Run(Sys.Materializer());
        await client.SendAsync("accepted"u8.ToArray(), SocketFlags.None);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("accepted"u8.ToArray(), await ReadToEnd(client).WaitAsync(Dilated(Timeout)));
        await binding.Unbind();
    }

    [Fact]
    public async Task Accept_errors_of_our_own_process_are_logged_and_retried_with_a_growing_pause_and_the_listener_goes_on()
    {
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Akka.Event.Warning));
        var (bindingTask, inbound) = Source.FromGraph(new SocketListenerStage("127.0.0.1", 0, 16,
                FailingAccept(SocketError.TooManyOpenSockets, SocketError.NoBufferSpaceAvailable, SocketError.TooManyOpenSockets)))
            .ToMaterialized(Sink.Queue<TransportConnection>(), Keep.Both)
            .Run(Sys.Materializer());
        var port = ((IPEndPoint)(await bindingTask.WaitAsync(Dilated(Timeout))).LocalAddress).Port;

        DateTime? previous = null;
        var pauses = new[] { 50, 100, 200 };
        for (var i = 0; i < pauses.Length; i++)
        {
            var warning = warnings.ExpectMsg<Akka.Event.Warning>(Dilated(Timeout));
            Assert.StartsWith($"Accepting a connection on 127.0.0.1:{port} failed (", warning.Message.ToString());
            Assert.EndsWith($"); trying again in {pauses[i]} ms", warning.Message.ToString());
            // Stamped when logged: the next failure came no sooner than the pause announced before it (a lower bound,
            // which a busy machine cannot break; a little slack for the clock).
            if (previous is { } before)
                Assert.True(warning.Timestamp - before >= TimeSpan.FromMilliseconds(pauses[i - 1] * 0.8),
                    $"retried {(warning.Timestamp - before).TotalMilliseconds} ms after a warning announcing {pauses[i - 1]} ms");
            previous = warning.Timestamp;
        }
        await AcceptedAndEchoed(bindingTask, inbound);
    }

    [Fact]
    public async Task A_connection_reset_before_it_was_accepted_is_skipped_at_once_without_a_warning()
    {
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Akka.Event.Warning));
        var (bindingTask, inbound) = Source.FromGraph(new SocketListenerStage("127.0.0.1", 0, 16,
                FailingAccept(SocketError.ConnectionReset, SocketError.ConnectionAborted)))
            .ToMaterialized(Sink.Queue<TransportConnection>(), Keep.Both)
            .Run(Sys.Materializer());

        await AcceptedAndEchoed(bindingTask, inbound);

        // Published from the stage before it accepted again, so one would be here by now.
        Assert.False(warnings.HasMessages, "a reset in the backlog was logged as a warning");
    }

    [Fact]
    public async Task A_long_run_of_connections_reset_in_the_backlog_is_skipped_without_growing_the_stack()
    {
        // Accepts that complete at once, one after another: handled in a loop (recursion this deep would overflow).
        var resets = Enumerable.Repeat(SocketError.ConnectionReset, 200_000).ToArray();
        var (bindingTask, inbound) = Source.FromGraph(new SocketListenerStage("127.0.0.1", 0, 16, FailingAccept(resets)))
            .ToMaterialized(Sink.Queue<TransportConnection>(), Keep.Both)
            .Run(Sys.Materializer());

        await AcceptedAndEchoed(bindingTask, inbound);
    }

    [Fact]
    public async Task A_connection_accepted_just_as_the_listener_stopped_is_closed_not_leaked()
    {
        // The accept is left pending, the listener stops, and then the accept completes with a connection (the race
        // the completion handler guards): the stage is gone, so the socket must be closed, not left to the finaliser.
        SocketAsyncEventArgs? pending = null;
        var (bindingTask, _) = Source.FromGraph(new SocketListenerStage("127.0.0.1", 0, 16, (_, args) =>
            {
                Volatile.Write(ref pending, args);
                return true;
            }))
            .ToMaterialized(Sink.Queue<TransportConnection>(), Keep.Both)
            .Run(Sys.Materializer());
        var binding = await bindingTask.WaitAsync(Dilated(Timeout));
        AwaitCondition(() => Volatile.Read(ref pending) is not null, Dilated(Timeout));
        await binding.Unbind().WaitAsync(Dilated(Timeout));

        using var other = Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(other.LocalEndPoint!);
        var accepted = await other.AcceptAsync().WaitAsync(Dilated(Timeout));
        pending!.AcceptSocket = accepted;
        pending.SocketError = SocketError.Success;
        typeof(SocketAsyncEventArgs).GetMethod("OnCompleted", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .Invoke(pending, [pending]); // what the runtime does when an accept completes

        Assert.Equal(0, await client.ReceiveAsync(new byte[1], SocketFlags.None).WaitAsync(Dilated(Timeout))); // closed
    }

    [Fact]
    public async Task An_accept_error_that_means_the_listening_socket_is_gone_fails_the_listener_naming_its_address()
    {
        var (bindingTask, done) = Source.FromGraph(new SocketListenerStage("127.0.0.1", 0, 16, FailingAccept(SocketError.OperationAborted)))
            .ToMaterialized(Sink.Ignore<TransportConnection>(), Keep.Both)
            .Run(Sys.Materializer());
        var bound = await bindingTask.WaitAsync(Dilated(Timeout));

        var error = await Assert.ThrowsAsync<IOException>(() => done.WaitAsync(Dilated(Timeout)));
        Assert.StartsWith($"listening on {bound.LocalAddress} failed: ", error.Message);
    }

    [Fact]
    public async Task A_connection_keeps_at_most_128_KiB_unsent_in_the_kernel_and_sends_small_writes_at_once()
    {
        if (!OperatingSystem.IsLinux()) return; // TCP_NOTSENT_LOWAT is set on Linux only
        using var listener = Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();
        Assert.Equal(0, UnsentLimit(accepted)); // the kernel's default: no limit

        _ = Source.Never<ByteString>().Via(new SocketConnectionStage(accepted, client.LocalEndPoint!)).RunWith(Sink.Ignore<ByteString>(), Sys.Materializer());
        AwaitAssert(() =>
        {
            Assert.Equal(128 * 1024, UnsentLimit(accepted));
            Assert.True(accepted.NoDelay);
        }, Dilated(Timeout));
    }

    private static int UnsentLimit(Socket socket)
    {
        var value = new byte[4];
        socket.GetRawSocketOption(6 /* IPPROTO_TCP */, 25 /* TCP_NOTSENT_LOWAT */, value);
        return BitConverter.ToInt32(value);
    }

    [Fact]
    public async Task Reads_are_fresh_arrays_unless_lent_so_a_consumer_may_keep_them()
    {
        // Sink.Seq keeps every element without copying: with lent reads it would see one buffer overwritten.
        var (received, server) = await DialQuietly(Sink.Seq<ByteString>());
        using var _ = server;
        var sent = RandomBytes(5_000_000, seed: 5);
        await server.SendAsync(sent, SocketFlags.None);
        server.Shutdown(SocketShutdown.Both);

        var elements = await received.WaitAsync(Dilated(Timeout));
        Assert.True(elements.Count > 1);
        Assert.Equal(sent, elements.SelectMany(e => e.ToArray()).ToArray());
        Assert.Equal(elements.Count, elements.Select(e => TransportStageAccess.ArrayOf(e)).Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public async Task Lent_reads_arrive_intact_for_a_consumer_that_is_done_with_each_before_it_pulls()
    {
        var (received, server) = await DialQuietly(Flow.Create<ByteString>()
            .Select(b => (Array: TransportStageAccess.ArrayOf(b), Bytes: b.ToArray())) // copied before the next pull
            .ToMaterialized(Sink.Seq<(byte[] Array, byte[] Bytes)>(), Keep.Right), LendReads.Attributes);
        using var _ = server;
        var sent = RandomBytes(5_000_000, seed: 6);
        await server.SendAsync(sent, SocketFlags.None);
        server.Shutdown(SocketShutdown.Both);

        var elements = await received.WaitAsync(Dilated(Timeout));
        Assert.True(elements.Count > 1);
        Assert.Equal(sent, elements.SelectMany(e => e.Bytes).ToArray());
        // Buffers lent, not fresh arrays: a pooled buffer is read into again and again while bytes keep coming, given
        // back only when the socket is drained for a moment, and grows (64 → 128 → 256 KiB) when reads fill it.
        var buffers = elements.Select(e => e.Array).Distinct(ReferenceEqualityComparer.Instance).Cast<byte[]>().ToList();
        Assert.True(buffers.Count * 2 <= elements.Count, $"{buffers.Count} buffers for {elements.Count} reads");
        var lengths = elements.Select(e => e.Array.Length).ToList();
        Assert.All(lengths, l => Assert.Contains(l, new[] { 64 * 1024, 128 * 1024, 256 * 1024 }));
        Assert.Equal(lengths.Order(), lengths); // 5 MB sent at once fill the buffer: it only grows
        Assert.True(lengths[^1] > 64 * 1024);
    }
}

/// <summary>What the specs check about the connection stage's access to Akka's ByteString internals.</summary>
internal static class TransportStageAccess
{
    public static int SegmentCount(ByteString bytes) => SocketConnectionStage.SegmentsOf(bytes).Count;

    public static byte[] ArrayOf(ByteString bytes) => SocketConnectionStage.SegmentsOf(bytes).Single().Array!;
}
