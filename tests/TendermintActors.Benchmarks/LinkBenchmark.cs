using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.SecretConnection;
using TendermintActors.Streams;
using TendermintActors.Switching;
using Switch = TendermintActors.Switching.Switch;
using TendermintActors.Transport;

namespace TendermintActors.Benchmarks;

/// <summary>
/// Two nodes in one process over loopback TCP (rate limits off): bulk throughput on one channel, small-message round
/// trips at idle and under a concurrent bulk transfer, and the "ideal pipeline" (raw sockets, ChaCha20-Poly1305 frames
/// sealed into 64 KiB writes and opened by the reader; and again with the reader only reading) measured in the same run
/// for a ratio. Prints figures; asserts nothing.
/// Every phase is warmed up first (<c>--warmup</c> seconds, 3 by default; our pipeline then until the JIT has settled,
/// <see cref="Node.Bench.JitSettling"/>), and each figure comes with the process's
/// CPU time per byte and the garbage collections (gen0/gen1/gen2) of its run. On a shared machine whose speed drifts
/// within seconds, each size is measured <c>--rounds</c> times (3 by default), each time right after its own ideal-pipeline
/// run, and the summary gives the median of those paired ratios.
/// Run: <c>dotnet run -c Release --project tests/TendermintActors.Benchmarks -- link [--mb 256] [--warmup 3] [--rounds 3]
/// [--transport sockets|akka-io] [--queue-type priority|fifo|wdrr]</c>
/// </summary>
public static class LinkBenchmark
{
    private const byte BulkChannel = 0x43;
    private const byte EchoChannel = 0x42;

    /// <summary>The TCP transport both nodes use (<c>--transport</c>): our socket stages or Akka.Streams' TCP.</summary>
    private static Func<IP2PTransport> _transport = () => new TcpTransport();

    /// <summary>The send scheduler's strategy on every connection (<c>--queue-type</c>).</summary>
    private static Protocol.MConnection.SendQueueType _queueType = Protocol.MConnection.SendQueueType.Priority;

    public static async Task<int> Run(string[] args)
    {
        var megabytes = args.SkipWhile(a => a != "--mb").Skip(1).Select(int.Parse).FirstOrDefault(256);
        // --transport sockets (TcpTransport, the default) or akka-io (AkkaIoTransport).
        var transportName = args.SkipWhile(a => a != "--transport").Skip(1).FirstOrDefault() ?? "sockets";
        switch (transportName)
        {
            case "sockets": _transport = () => new TcpTransport(); break;
            case "akka-io": _transport = () => new AkkaIoTransport(); break;
            default:
                Console.Error.WriteLine($"--transport: '{transportName}' is not a transport; use sockets or akka-io");
                return 2;
        }
        // --queue-type priority (the default), fifo or wdrr: how each connection chooses the channel that sends next.
        var queueTypeName = args.SkipWhile(a => a != "--queue-type").Skip(1).FirstOrDefault() ?? "priority";
        if (!Enum.TryParse(queueTypeName, ignoreCase: true, out _queueType) || !Enum.IsDefined(_queueType))
        {
            Console.Error.WriteLine($"--queue-type: '{queueTypeName}' is not a queue type; use priority, fifo or wdrr");
            return 2;
        }
        var total = (long)megabytes * 1024 * 1024;
        // --akka "<hocon>" adds to the actor system's config, e.g. a dispatcher to compare.
        var overrides = args.SkipWhile(a => a != "--akka").Skip(1).FirstOrDefault() ?? "";
        // --warmup 3 is the seconds each phase runs before it is measured (the ideal pipeline's included).
        var warmup = TimeSpan.FromSeconds(args.SkipWhile(a => a != "--warmup").Skip(1).Select(a => double.Parse(a, System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault(3));
        // --rounds 3: how many ideal/ours pairs per size; the summary takes medians.
        var rounds = args.SkipWhile(a => a != "--rounds").Skip(1).Select(int.Parse).FirstOrDefault(3);
        // --sizes 1024,65536 picks the bulk message sizes (e.g. one size only, to profile it).
        var sizes = args.SkipWhile(a => a != "--sizes").Skip(1).Select(s => s.Split(',').Select(int.Parse).ToArray())
            .FirstOrDefault([1024, 64 * 1024]);
        using var system = ActorSystem.Create("link-bench", ConfigurationFactory.ParseString(overrides + "\nakka.loglevel = WARNING"));

        var (peer, sink, echoReplies) = await Connect(system, new MConnectionSettings { SendRate = 0, RecvRate = 0 });

        Console.WriteLine($"TendermintActors link benchmark: two nodes, loopback TCP ({transportName}), queue type {_queueType}, rate limits off, {megabytes} MiB per bulk run, " +
            $"frames sealed with {FrameCipher.Default}");
        for (var started = Stopwatch.StartNew(); started.Elapsed < warmup;)
            IdealPipeline(Math.Min(total, 64L << 20), open: true);
        // Warm-up: each size runs for a while before the clock starts, so that the runtime's tiered JIT has compiled
        // the hot path. Without it a 128 MiB run (1-2 s) mostly measures instrumented code and the JIT thread: twice
        // the CPU per byte of the steady state for 1 KiB messages here (DOTNET_TieredCompilation=0 agrees). As bench
        // send's --warmup auto: at least --warmup seconds, then until the JIT has settled (at most 30 s).
        foreach (var size in sizes)
        {
            var settling = new Node.Bench.JitSettling(warmup, TimeSpan.FromSeconds(30));
            var started = Stopwatch.StartNew();
            do await Bulk(system, peer, sink, Math.Min(total, 16L << 20), size);
            while (!settling.IsSettled(started.Elapsed, System.Runtime.JitInfo.GetCompilationTime()));
            Console.WriteLine($"warm-up, {size / 1024} KiB messages: {started.Elapsed.TotalSeconds:F1} s ({settling.Outcome})");
        }
        var results = sizes.ToDictionary(size => size, _ => new List<(double Ideal, double SealOnly, double Ours)>());
        for (var round = 1; round <= rounds; round++)
            foreach (var size in sizes)
            {
                var cpu = CpuClock.Start();
                var sealOnly = IdealPipeline(total, open: false);
                var sealOnlyCpu = cpu.NanosecondsPer(total);
                cpu = CpuClock.Start();
                var ideal = IdealPipeline(total, open: true);
                var idealCpu = cpu.NanosecondsPer(total);
                cpu = CpuClock.Start();
                var mbps = await Bulk(system, peer, sink, total, size);
                results[size].Add((ideal, sealOnly, mbps));
                Console.WriteLine($"round {round}, {size / 1024} KiB messages on one channel: {mbps:F0} MB/s, {cpu.NanosecondsPer(total)}; " +
                    $"ideal pipeline just before: {ideal:F0} MB/s, {idealCpu}; ratio {mbps / ideal * 100:F0} %; " +
                    $"sealing only: {sealOnly:F0} MB/s, {sealOnlyCpu}; ratio {mbps / sealOnly * 100:F0} %");
            }
        foreach (var (size, rows) in results)
            Console.WriteLine($"throughput, {size / 1024} KiB messages on one channel: median {Median(rows.Select(p => p.Ours)):F0} MB/s, " +
                $"median {Median(rows.Select(p => p.Ours / p.Ideal)) * 100:F0} % of the ideal pipeline (raw socket + ChaCha20-Poly1305 " +
                $"frames in 64 KiB writes, opened by the reader; median {Median(rows.Select(p => p.Ideal)):F0} MB/s) and " +
                $"{Median(rows.Select(p => p.Ours / p.SealOnly)) * 100:F0} % of the same with the reader not opening them " +
                $"(median {Median(rows.Select(p => p.SealOnly)):F0} MB/s) over {rows.Count} rounds");
        var idle = await RoundTrips(peer, echoReplies, () => false, 2000);
        Console.WriteLine($"round trip, 64-byte message, idle: {idle}");
        // Under load, samples are taken only while the bulk transfer runs (one that ends first would make the later
        // samples idle ones); 1 GiB keeps it running long enough for some hundred samples.
        var loadBytes = Math.Max(total, 1L << 30);
        var clock = CpuClock.Start();
        var bulk = Bulk(system, peer, sink, loadBytes, 64 * 1024);
        var loaded = await RoundTrips(peer, echoReplies, () => bulk.IsCompleted, int.MaxValue);
        var under = await bulk;
        Console.WriteLine($"round trip, 64-byte message, during a 64 KiB bulk transfer on a priority-1 channel with rate limits off " +
            $"({under:F0} MB/s, {clock.NanosecondsPer(loadBytes)}): {loaded}");
        // The same on further pairs of nodes: with the send rate limited to 50 MB/s (the cores are not saturated), and
        // with CometBFT's default rate limits (5,120,000 B/s each way: the bulk transfer takes the whole send budget,
        // and the echo must find room in it).
        foreach (var (name, connection, bytes) in new[]
                 {
                     ("limited to 50 MB/s", new MConnectionSettings { SendRate = 50_000_000, RecvRate = 0 }, 256L << 20),
                     ("at the default rate limits", new MConnectionSettings(), 20L << 20),
                 })
        {
            var (limitedPeer, limitedSink, limitedEcho) = await Connect(system, connection);
            clock = CpuClock.Start();
            var limitedBulk = Bulk(system, limitedPeer, limitedSink, bytes, 64 * 1024);
            var limited = await RoundTrips(limitedPeer, limitedEcho, () => limitedBulk.IsCompleted, int.MaxValue);
            var limitedRate = await limitedBulk;
            Console.WriteLine($"round trip, 64-byte message, during a 64 KiB bulk transfer {name} ({limitedRate:F1} MB/s, {clock.NanosecondsPer(bytes)}): {limited}");
        }
        // As a node's CoordinatedShutdown does: unbind and close the peers before the system goes, so that no
        // listener outlives its stream (Akka.IO warns about those).
        await Task.WhenAll(Switches.Select(node =>
            node.Ask<Switch.ShutdownComplete>(new Switch.Shutdown(TimeSpan.FromSeconds(5)), TimeSpan.FromSeconds(10))));
        await system.Terminate();
        return 0;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static async Task<double> Bulk(ActorSystem system, PeerHandle peer, SinkState sink, long total, int size)
    {
        var count = (int)(total / size);
        sink.Reset(count);
        var message = new byte[size];
        Random.Shared.NextBytes(message);
        var stopwatch = Stopwatch.StartNew();
        // bench send's sender and window: up to 1000 messages in flight (the channel's queue; the peer actor lets as
        // many again wait for room, and refuses more), a SendResult asked for one in a hundred; it fails when a send
        // is refused or the peer goes.
        var sender = system.ActorOf(Node.Bench.BulkSender.Props(peer, BulkChannel, message, count, 1000));
        var accepted = sender.Ask<Node.Bench.BulkSender.AllAccepted>(Node.Bench.BulkSender.Start.Instance, TimeSpan.FromMinutes(5));
        await (await Task.WhenAny(sink.Done.Task, accepted).WaitAsync(TimeSpan.FromMinutes(5)));
        await sink.Done.Task.WaitAsync(TimeSpan.FromMinutes(5));
        stopwatch.Stop();
        system.Stop(sender);
        return (double)count * size / stopwatch.Elapsed.TotalSeconds / 1e6;
    }

    /// <summary>Every switch <see cref="Connect"/> started, to shut down at the end.</summary>
    private static readonly List<IActorRef> Switches = [];

    /// <summary>
    /// Two nodes on loopback TCP with the given connection settings, one reactor per channel on each (so that an echo
    /// never waits in a reactor's mailbox behind bulk messages); A dials B. Returns A's handle on B.
    /// </summary>
    private static async Task<(PeerHandle Peer, SinkState Sink, EchoState Echo)> Connect(ActorSystem system, MConnectionSettings connection)
    {
        var sink = new SinkState();
        var echo = new EchoState();
        ChannelDescriptor[] echoChannel = [new(EchoChannel, 10) { SendQueueCapacity = 10 }];
        ChannelDescriptor[] bulkChannel = [new(BulkChannel, 1) { SendQueueCapacity = 1000, RecvMessageCapacity = 1 << 20 }];
        var settings = new Switch.Settings
        {
            ListenHost = "127.0.0.1", ListenPort = 0, DialStartJitter = TimeSpan.Zero, Connection = connection with { QueueType = _queueType },
        };
        var keyA = NodeKey.Generate();
        var keyB = NodeKey.Generate();
        var echoA = system.ActorOf(Props.Create(() => new BenchReactor(echo, null, false)));
        var bulkA = system.ActorOf(Props.Create(() => new BenchReactor(null, null, false)));
        var echoB = system.ActorOf(Props.Create(() => new BenchReactor(null, null, true)));
        var sinkB = system.ActorOf(Props.Create(() => new BenchReactor(null, sink, false)));
        var transport = _transport();
        var a = system.ActorOf(Switch.Props(keyA, settings, [new("echo", echoA, echoChannel), new("bulk", bulkA, bulkChannel)], transport));
        var b = system.ActorOf(Switch.Props(keyB, settings, [new("echo", echoB, echoChannel), new("bulk", sinkB, bulkChannel)], transport));
        Switches.AddRange([a, b]);
        var infoB = await b.Ask<Switch.NodeInfoReply>(Switch.GetNodeInfo.Instance, TimeSpan.FromSeconds(10));
        var endpointB = (IPEndPoint)infoB.ListenAddress!;
        a.Tell(new Switch.DialPeers([new NetAddress(keyB.Id, endpointB.Address, endpointB.Port)]));
        return (await echo.Connected.Task.WaitAsync(TimeSpan.FromSeconds(10)), sink, echo);
    }

    /// <summary>Round trips one after the other until <paramref name="stop"/> says so or <paramref name="count"/> are taken.</summary>
    private static async Task<RoundTripFigures> RoundTrips(PeerHandle peer, EchoState echo, Func<bool> stop, int count)
    {
        var samples = new List<double>();
        var message = new byte[64];
        while (samples.Count < count && !stop())
        {
            echo.Reply = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var started = Stopwatch.GetTimestamp();
            peer.TrySend(EchoChannel, message);
            await echo.Reply.Task.WaitAsync(TimeSpan.FromSeconds(10));
            samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        samples.Sort();
        return new RoundTripFigures(samples);
    }

    private sealed record RoundTripFigures(List<double> Sorted)
    {
        private double Percentile(double p) => Sorted[Math.Min(Sorted.Count - 1, (int)(Sorted.Count * p))];

        public override string ToString() => Sorted.Count == 0
            ? "no sample"
            : $"p50 {Percentile(0.5):F3} ms, p99 {Percentile(0.99):F3} ms, max {Sorted[^1]:F3} ms over {Sorted.Count} samples";
    }

    /// <summary>
    /// What the protocol costs at best here: seal 1028-byte frames into 64 KiB writes, send, and (with
    /// <paramref name="open"/>) open them. Without opening it is the issue's wording of the yardstick ("raw socket +
    /// ChaCha20-Poly1305 sealing 1028-byte frames into large writes"), which leaves the reader nothing but reading.
    /// </summary>
    private static double IdealPipeline(long total, bool open)
    {
        var key = new byte[32];
        Random.Shared.NextBytes(key);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var server = listener.Accept();
        var frames = total / Frame.DataMaxSize;
        var stopwatch = Stopwatch.StartNew();
        var writer = Task.Run(() =>
        {
            using var sealer = new FrameSealer(key);
            var data = new byte[Frame.DataMaxSize];
            var batch = new byte[62 * Frame.SealedSize];
            for (long sent = 0; sent < frames;)
            {
                var n = (int)Math.Min(62, frames - sent);
                for (var i = 0; i < n; i++)
                    sealer.SealFrame(data, batch.AsSpan(i * Frame.SealedSize, Frame.SealedSize));
                client.Send(batch.AsSpan(0, n * Frame.SealedSize));
                sent += n;
            }
        });
        using (var opener = new FrameOpener(key))
        {
            var buffer = new byte[64 * 1024];
            var sink = new System.Buffers.ArrayBufferWriter<byte>(64 * 1024);
            long received = 0;
            var expected = frames * Frame.SealedSize;
            while (received < expected)
            {
                var n = server.Receive(buffer);
                if (open)
                {
                    opener.Open(buffer.AsSpan(0, n), sink);
                    sink.Clear();
                }
                received += n;
            }
        }
        writer.Wait();
        return frames * (double)Frame.DataMaxSize / stopwatch.Elapsed.TotalSeconds / 1e6;
    }

    /// <summary>
    /// The process's CPU time over a phase per byte moved (steadier than MB/s on a shared machine), the garbage
    /// collections of each generation meanwhile, and the bytes allocated per byte moved (both nodes: this process),
    /// which hardly depend on the machine's speed: the steadiest figure to compare builds by.
    /// </summary>
    private readonly record struct CpuClock(TimeSpan StartedAt, int Gen0, int Gen1, int Gen2, TimeSpan Paused, long Allocated)
    {
        public static CpuClock Start() => new(Process.GetCurrentProcess().TotalProcessorTime,
            GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(),
            GC.GetTotalAllocatedBytes(precise: true));

        public string NanosecondsPer(long bytes) =>
            $"{(Process.GetCurrentProcess().TotalProcessorTime - StartedAt).TotalNanoseconds / bytes:F1} ns CPU/byte, " +
            $"{(GC.GetTotalAllocatedBytes(precise: true) - Allocated) / (double)bytes:F2} B allocated/byte, " +
            $"GCs {GC.CollectionCount(0) - Gen0}/{GC.CollectionCount(1) - Gen1}/{GC.CollectionCount(2) - Gen2} " +
            $"pausing {(GC.GetTotalPauseDuration() - Paused).TotalMilliseconds:F0} ms";
    }

    private sealed class SinkState
    {
        private int _expected;
        private int _received;
        public TaskCompletionSource Done { get; private set; } = new();

        public void Reset(int expected)
        {
            _expected = expected;
            _received = 0;
            Done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public void OnMessage()
        {
            if (++_received == _expected) Done.TrySetResult();
        }
    }

    private sealed class EchoState
    {
        public TaskCompletionSource<PeerHandle> Connected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Reply { get; set; } = new();
    }

    /// <summary>On A, the echo reactor records replies; on B, the echo reactor echoes and the bulk one counts.</summary>
    private sealed class BenchReactor : ReactorActor
    {
        public BenchReactor(EchoState? echo, SinkState? sink, bool echoBack)
        {
            Receive<Reactor.PeerAdded>(added => echo?.Connected.TrySetResult(added.Peer));
            Receive<Reactor.Received>(received =>
            {
                if (received.Channel == BulkChannel) sink?.OnMessage();
                else if (echoBack) received.Peer.TrySend(EchoChannel, received.Message);
                else echo?.Reply.TrySetResult();
            });
            Receive<Reactor.PeerRemoved>(_ => { });
        }
    }
}
