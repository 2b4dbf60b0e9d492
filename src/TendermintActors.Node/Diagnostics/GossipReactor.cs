using Akka;
using System.Diagnostics;
using System.Text;
using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;

namespace TendermintActors.Node.Diagnostics;

/// <summary>
/// localnet's demo reactor: greets each peer when it is added, then every interval sends every connected peer its
/// moniker and a counter, and counts what it receives per sender. Its state is read with <see cref="GetStats"/>.
/// </summary>
internal sealed class GossipReactor : ReactorActor, IWithTimers
{
    /// <summary>Not a CometBFT channel: the demo must not be mistaken for a real reactor by a Go peer.</summary>
    public const byte ChannelId = 0x42;

    public static ChannelDescriptor Channel { get; } = new(ChannelId, 1);

    public sealed record GetStats
    {
        public static readonly GetStats Instance = new();
    }

    /// <summary>Stop sending (the run is ending), so the final counts are not racing new messages.</summary>
    public sealed record Quiesce
    {
        public static readonly Quiesce Instance = new();
    }

    /// <summary>
    /// A node's counts. <c>EverConnected</c> holds every peer seen since start, even one that left again;
    /// <c>FullSince</c> is when the peer count first reached the expected one, on the network's clock.
    /// </summary>
    public sealed record Stats(int Connected, IReadOnlySet<NodeId> EverConnected, long Sent,
        IReadOnlyDictionary<NodeId, long> ReceivedFrom, TimeSpan? FullSince)
    {
        public long Received => ReceivedFrom.Values.Sum();
    }

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    private readonly string _moniker;
    private readonly int _expectedPeers;
    private readonly Stopwatch _clock;
    private readonly Dictionary<NodeId, PeerHandle> _peers = new();
    private readonly HashSet<NodeId> _everConnected = new();
    private readonly Dictionary<NodeId, long> _receivedFrom = new();
    private long _sent;
    private long _counter;
    private bool _quiet;
    private TimeSpan? _fullSince;

    public ITimerScheduler Timers { get; set; } = null!;

    // The clock is started by the caller when the network starts, so all nodes' times are comparable.
    public GossipReactor(string moniker, int expectedPeers, TimeSpan interval, Stopwatch clock)
    {
        _moniker = moniker;
        _expectedPeers = expectedPeers;
        _clock = clock;
        // Only peers that gossip count (a seed has PEX alone and does not stay).
        Receive<Reactor.PeerAdded>(added => !added.Peer.HasChannel(ChannelId), _ => { });
        Receive<Reactor.PeerAdded>(added =>
        {
            _peers[added.Peer.Id] = added.Peer;
            _everConnected.Add(added.Peer.Id);
            if (_fullSince is null && _peers.Count >= _expectedPeers)
                _fullSince = _clock.Elapsed;
            SendTo(added.Peer);
        });
        Receive<Reactor.PeerRemoved>(removed => _peers.Remove(removed.Peer.Id));
        Receive<Reactor.Received>(received =>
            _receivedFrom[received.Peer.Id] = _receivedFrom.GetValueOrDefault(received.Peer.Id) + 1);
        Receive<Tick>(_ =>
        {
            foreach (var peer in _peers.Values)
                SendTo(peer);
        });
        Receive<Quiesce>(_ =>
        {
            _quiet = true;
            Timers.CancelAll();
            Sender.Tell(Done.Instance);
        });
        Receive<GetStats>(_ => Sender.Tell(new Stats(_peers.Count, _everConnected.ToHashSet(), _sent,
            new Dictionary<NodeId, long>(_receivedFrom), _fullSince)));
        _interval = interval;
    }

    private readonly TimeSpan _interval;

    protected override void PreStart() => Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _interval);

    private void SendTo(PeerHandle peer)
    {
        if (_quiet)
            return;
        // TrySend: a demo message is not worth waiting for room; a full queue just skips this round.
        peer.TrySend(ChannelId, Encoding.UTF8.GetBytes($"{_moniker}#{++_counter}"));
        _sent++;
    }

    public static Props Props(string moniker, int expectedPeers, TimeSpan interval, Stopwatch clock) =>
        Akka.Actor.Props.Create(() => new GossipReactor(moniker, expectedPeers, interval, clock));
}
