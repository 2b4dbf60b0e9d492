using System.Buffers.Binary;
using System.Diagnostics;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Node.Runtime;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Transport;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Node.Bench;

/// <summary>
/// <c>bench peers</c>: one node holding many peers. Every peer is a connection of its own, with its own node key,
/// built from the public stream API (<see cref="TcpTransport"/>, <see cref="SecretConnection.Upgrade"/>,
/// <see cref="MConnection"/>) in this one process, so that a thousand of them cost far less than a thousand nodes.
/// It measures how fast the target takes them, what they cost it in memory, and then (unless idle) the round trips
/// of a steady trickle of messages through its echo reactor and the target's CPU per message.
/// </summary>
internal static class PeersBench
{
    internal sealed record Options(string Network, byte Channel, int Peers, TimeSpan Timeout)
    {
        /// <summary>The node to measure and its process; null: a <see cref="PeersBenchTarget"/> is started.</summary>
        public (NetAddress Address, int Pid)? Target { get; init; }

        /// <summary>Connect, wait <see cref="Settle"/>, measure the memory, send nothing: works against any node.</summary>
        public bool Idle { get; init; }

        /// <summary>
        /// Channels the started target declares besides <see cref="Channel"/>, each a counting reactor's (none by
        /// default): with <see cref="GoChannels"/>, a target with as many channels as a Go node with its reactors.
        /// </summary>
        public IReadOnlyList<byte> TargetChannels { get; init; } = [];

        /// <summary>
        /// Peers connected after the first reading (0: none), read again once settled: what each adds, without what
        /// the first connections pay once. They take part in the traffic too.
        /// </summary>
        public int MorePeers { get; init; }

        /// <summary>A Go node's channels (PEX, consensus state, data, vote and vote-set bits, mempool, evidence, block sync, state sync's snapshots and chunks).</summary>
        public static readonly IReadOnlyList<byte> GoChannels = [0x00, 0x20, 0x21, 0x22, 0x23, 0x30, 0x38, 0x40, 0x60, 0x61];

        public int Size { get; init; } = 64;
        public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);
        public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

        /// <summary>Handshakes in progress at once: below a node's bound on concurrent handshakes (ours: 64 by default).</summary>
        public int Concurrency { get; init; } = 32;

        /// <summary>
        /// How long memory is left to settle (after the target starts, and after the peers connect) before it is read:
        /// the handshakes' garbage is collected meanwhile, and the runtime frees the JIT's working memory, which it keeps
        /// cached (up to 16 MB) until a few seconds after the JIT goes quiet: 8-14 s after a node starts, on this
        /// machine. Read sooner, either reading may still hold it (docs/performance.md, "Reading the resident set").
        /// </summary>
        public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(15);

        /// <summary>Where progress lines go (stderr on a terminal); null for none.</summary>
        public TextWriter? Progress { get; init; }

        /// <summary>The timestamp each message carries, so the echo tells its round trip.</summary>
        public const int MinSize = sizeof(long);
    }

    public static async Task<PeersReport> RunAsync(Options options, TextWriter stderr, CancellationToken cancellation)
    {
        await using var spawned = options.Target is null
            ? await PeersBenchTarget.Start(options.Network, options.Channel, options.TargetChannels, options.Peers + options.MorePeers, options.Timeout,
                stderr, cancellation)
            : null;
        var (address, pid) = options.Target ?? (spawned!.Address, spawned.Pid);
        if (spawned is not null)
        {
            options.Progress?.WriteLine($"target started: {address} (pid {pid})");
            await Task.Delay(options.Settle, cancellation);
        }
        var before = ProcessSample.Of(pid);

        var log = LogOutput.Default with { Levels = LogLevels.All(Akka.Event.LogLevel.ErrorLevel) };
        var system = ActorSystem.Create("tmactors-bench-peers", NodeAkkaConfig.Create(log.Levels));
        var peers = Array.Empty<Peer>();
        try
        {
            LogSinks.Start(system, TextWriter.Synchronized(stderr), hold: false, log);
            var materializer = system.Materializer();
            var connecting = Stopwatch.GetTimestamp();
            peers = await Connect(system, materializer, address, options, first: 0, options.Peers, cancellation);
            var connectTime = Stopwatch.GetElapsedTime(connecting);
            ThrowIfAnyFailed(peers, address);

            var justConnected = ProcessSample.Of(pid);
            var settling = Stopwatch.GetTimestamp();
            await Task.Delay(options.Settle, cancellation);
            var connected = ProcessSample.Of(pid);
            var settled = Stopwatch.GetElapsedTime(settling);
            var report = new PeersReport(options.Peers, connectTime.TotalSeconds, before.RssKilobytes, connected.RssKilobytes)
            {
                // What holding the peers costs with nothing sent (pings, timers, the runtime), over a span long
                // enough for /proc's clock ticks (10 ms) to tell.
                TargetIdleCpuPercent = settled >= TimeSpan.FromSeconds(1) ? 100 * (connected.Cpu - justConnected.Cpu) / settled : null,
            };
            if (options.MorePeers > 0)
            {
                var more = await Connect(system, materializer, address, options, first: options.Peers, options.MorePeers, cancellation);
                peers = [.. peers, .. more];
                ThrowIfAnyFailed(more, address);
                await Task.Delay(options.Settle, cancellation);
                connected = ProcessSample.Of(pid); // the traffic's CPU counts from here
                report = report with { More = (options.MorePeers, connected.RssKilobytes) };
            }
            if (options.Idle)
                return report with { DroppedPeers = peers.Count(p => p.Handle!.Completion.IsCompleted) };

            var (traffic, dropped) = await Traffic(peers, pid, connected, options, cancellation);
            return report with { Traffic = traffic, DroppedPeers = dropped };
        }
        finally
        {
            foreach (var peer in peers)
                peer.Handle?.Close(flushFirst: false);
            await system.Terminate();
            foreach (var peer in peers)
                peer.Key.Dispose();
        }
    }

    private sealed record Peer(NodeKey Key, IActorRef Client, MConnectionHandle? Handle, string? Error);

    private static void ThrowIfAnyFailed(Peer[] peers, NetAddress address)
    {
        if (peers.FirstOrDefault(p => p.Error is not null) is { } failed)
            throw new InvalidOperationException(
                $"{peers.Count(p => p.Error is not null)} of {peers.Length} peers could not connect to {address}; the first error: {failed.Error}");
    }

    /// <summary>
    /// Peers <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1 dialled and upgraded,
    /// <see cref="Options.Concurrency"/> at a time; failures are kept, not thrown.
    /// </summary>
    private static async Task<Peer[]> Connect(ActorSystem system, IMaterializer materializer, NetAddress target, Options options,
        int first, int count, CancellationToken cancellation)
    {
        var transport = new TcpTransport();
        var channels = new[] { new ChannelDescriptor(options.Channel, 1) };
        // No rate limits on our side: the figures are the target's.
        var connection = new MConnectionSettings { SendRate = 0, RecvRate = 0 };
        var done = 0;
        var result = await Source.From(Enumerable.Range(first, count))
            .SelectAsyncUnordered(options.Concurrency, async i =>
            {
                var key = NodeKey.Generate();
                var client = system.ActorOf(PeerClient.Props(options.Channel, options.Size), $"peer-{i}");
                var info = NodeInfoModel.Create(key.Id, "tcp://127.0.0.1:26656", options.Network, $"bench-peer-{i}", [options.Channel]);
                var handler = SecretConnection.Upgrade(key, info, new SecretConnectionSettings
                    {
                        HandshakeTimeout = options.Timeout,
                        ExpectedRemoteId = target.Id,
                    })
                    .JoinUnderMat(MConnection.Create(connection, channels, client), (u, h) => (u, h));
                var (remote, (upgraded, handle)) = transport.Dial(target.Host, target.Port, options.Timeout)
                    .JoinMaterialized(handler, (r, h) => (r, h))
                    .Run(materializer);
                try
                {
                    var up = await upgraded.WaitAsync(options.Timeout + TimeSpan.FromSeconds(5), cancellation);
                    if (!options.Idle && up.RemoteNodeInfo is { } remoteInfo && !remoteInfo.Channels.Contains(options.Channel))
                        throw new InvalidOperationException($"it runs no reactor on channel 0x{options.Channel:x2} (its channels: " +
                            $"{Convert.ToHexString(remoteInfo.Channels.ToArray()).ToLowerInvariant()}); start it with --echo-channel 0x{options.Channel:x2}");
                    client.Tell(new PeerClient.Attach(handle));
                    return new Peer(key, client, handle, null);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
                {
                    handle.Close(flushFirst: false);
                    // A failed dial fails the upgrade too; the dial's error explains it better.
                    var reason = remote.IsFaulted ? remote.Exception!.GetBaseException() : e;
                    return new Peer(key, client, null, reason.Message);
                }
            })
            .Select(peer =>
            {
                done++;
                if (options.Progress is { } progress && (done % 50 == 0 || done == count))
                    progress.Write($"\rconnected {done}/{count}   ");
                return peer;
            })
            .RunWith(Sink.Seq<Peer>(), materializer);
        options.Progress?.WriteLine();
        return [.. result];
    }

    /// <summary>
    /// Every peer sends one message per interval, the peers spread evenly over it, for the duration; then each waits
    /// (at most the timeout) for its last echoes.
    /// </summary>
    private static async Task<(PeersTraffic Traffic, int Dropped)> Traffic(Peer[] peers, int pid, ProcessSample connected, Options options,
        CancellationToken cancellation)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < peers.Length; i++)
            peers[i].Client.Tell(new PeerClient.StartTraffic(options.Interval * i / peers.Length, options.Interval));
        var end = start + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            var left = TimeSpan.FromSeconds((double)(end - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
            await Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), cancellation);
            options.Progress?.Write($"\rtraffic: {Stopwatch.GetElapsedTime(start).TotalSeconds:0} of {options.Duration.TotalSeconds:0} s   ");
        }
        options.Progress?.WriteLine();
        var samples = await Task.WhenAll(peers.Select(p =>
            p.Client.Ask<PeerClient.Samples>(new PeerClient.Drain(options.Timeout), options.Timeout + TimeSpan.FromSeconds(10), cancellation)));
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var last = ProcessSample.Of(pid);

        var roundTrips = samples.SelectMany(s => s.RoundTripsMs).ToArray();
        var sent = samples.Sum(s => s.Sent);
        if (roundTrips.Length == 0)
            throw new TimeoutException($"none of {sent} messages came back within {options.Timeout.TotalSeconds:0.###} s: " +
                                       $"does the target run an echo reactor on channel 0x{options.Channel:x2}?");
        var traffic = new PeersTraffic(options.Size, options.Interval, sent, roundTrips.Length, seconds, Latency.Of(options.Size, roundTrips),
            last.Cpu - connected.Cpu, last.RssKilobytes);
        return (traffic, samples.Count(s => s.Stopped));
    }
}

/// <summary>
/// One bench peer's side of its connection: the owner of its MConnection. It sends a timestamped message on each
/// tick and times the echo when it comes back; nothing is shared with the other peers.
/// </summary>
internal sealed class PeerClient : ReceiveActor, IWithTimers
{
    public sealed record Attach(MConnectionHandle Handle);

    /// <summary>The first message after <paramref name="Offset"/>, then one per <paramref name="Interval"/>.</summary>
    public sealed record StartTraffic(TimeSpan Offset, TimeSpan Interval);

    /// <summary>Stop sending; answered with <see cref="Samples"/> once every echo is back, the connection ended, or after <paramref name="Timeout"/>.</summary>
    public sealed record Drain(TimeSpan Timeout);

    /// <param name="RoundTripsMs">One per echo, in milliseconds.</param>
    /// <param name="Sent">Messages given to the connection (rejected ones excluded).</param>
    /// <param name="Stopped">Whether the connection ended before the drain was answered.</param>
    public sealed record Samples(double[] RoundTripsMs, long Sent, bool Stopped);

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    private sealed record DrainTimedOut
    {
        public static readonly DrainTimedOut Instance = new();
    }

    private readonly byte _channel;
    private readonly int _size;
    private readonly List<double> _roundTrips = [];
    private MConnectionHandle? _handle;
    private long _sent;
    private bool _stopped;
    private IActorRef? _drainer;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(byte channel, int size) => Akka.Actor.Props.Create(() => new PeerClient(channel, size));

    public PeerClient(byte channel, int size)
    {
        _channel = channel;
        _size = size;
        Receive<Attach>(a => _handle = a.Handle);
        Receive<StartTraffic>(s => Timers.StartPeriodicTimer("tick", Tick.Instance, s.Offset, s.Interval));
        Receive<Tick>(_ => Send());
        Receive<MConnection.MessagesReceived>(Received);
        Receive<MConnection.SendRejected>(_ => _sent--);
        Receive<MConnection.Stopped>(_ =>
        {
            _stopped = true;
            Timers.Cancel("tick");
            AnswerDrainWhenDone();
        });
        Receive<MConnection.IEvent>(_ => { });
        Receive<Drain>(d =>
        {
            Timers.Cancel("tick");
            _drainer = Sender;
            Timers.StartSingleTimer("drain", DrainTimedOut.Instance, d.Timeout);
            AnswerDrainWhenDone();
        });
        Receive<DrainTimedOut>(_ => AnswerDrain());
    }

    private void Send()
    {
        if (_handle is null || _stopped) return;
        // A fresh array each time: the connection keeps it until it is written.
        var message = new byte[_size];
        BinaryPrimitives.WriteInt64LittleEndian(message, Stopwatch.GetTimestamp());
        _handle.Send(_channel, message);
        _sent++;
    }

    private void Received(MConnection.MessagesReceived received)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var message in received.Messages)
        {
            if (message.Channel == _channel && message.Message.Length >= PeersBench.Options.MinSize)
            {
                var sentAt = BinaryPrimitives.ReadInt64LittleEndian(message.Message.Span);
                _roundTrips.Add((double)(now - sentAt) * 1000 / Stopwatch.Frequency);
            }
            _handle?.Ack(message.Channel);
        }
        AnswerDrainWhenDone();
    }

    private void AnswerDrainWhenDone()
    {
        if (_drainer is not null && (_stopped || _roundTrips.Count >= _sent))
            AnswerDrain();
    }

    private void AnswerDrain()
    {
        if (_drainer is null) return;
        _drainer.Tell(new Samples([.. _roundTrips], _sent, _stopped));
        _drainer = null;
        Timers.Cancel("drain");
    }
}
