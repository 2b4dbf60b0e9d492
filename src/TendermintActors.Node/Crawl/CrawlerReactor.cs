using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using TendermintActors.Switching;

namespace TendermintActors.Node.Crawl;

/// <summary>
/// The crawler: a reactor on the PEX channel that dials what the <see cref="NetworkWalk"/> says, asks each node it
/// reaches for addresses once (one request per connection, well within Go's request-rate rule), records what the
/// node said of itself, and lets it go as soon as it answered. It hands out no addresses (an empty answer to a
/// request), so crawling leaves nothing behind in other nodes' books.
/// </summary>
internal sealed class CrawlerReactor : UntypedReactorActor, IWithTimers
{
    /// <summary>Begin the walk through <paramref name="Switch"/>, dialling up to <paramref name="Concurrency"/> at once.</summary>
    public sealed record Start(IActorRef Switch, int Concurrency, TimeSpan NodeTimeout);

    /// <summary>Replies <see cref="Result"/> once the walk is over (at once if it is).</summary>
    public sealed record AwaitResult
    {
        public static readonly AwaitResult Instance = new();
    }

    /// <summary>End the walk now and reply <see cref="Result"/>.</summary>
    public sealed record StopWalk
    {
        public static readonly StopWalk Instance = new();
    }

    public sealed record Result(IReadOnlyList<NetworkWalk.NodeRecord> Nodes, bool Finished, int NotTried);

    public sealed record Progress(int Found, int Reachable, int InFlight, int Pending);

    public sealed record GetProgress
    {
        public static readonly GetProgress Instance = new();
    }

    private sealed record NodeTimedOut(NodeId Id);

    private readonly NetworkWalk _walk;
    private readonly Dictionary<NodeId, PeerHandle> _peers = [];
    private readonly List<IActorRef> _awaiters = [];
    private IActorRef _switch = ActorRefs.Nobody;
    private int _concurrency = 1;
    private TimeSpan _nodeTimeout;
    private Result? _result;

    public CrawlerReactor(IEnumerable<NetAddress> seeds) => _walk = new NetworkWalk(seeds);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IEnumerable<NetAddress> seeds) => Akka.Actor.Props.Create(() => new CrawlerReactor(seeds));

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Start start:
                _switch = start.Switch;
                _concurrency = Math.Max(1, start.Concurrency);
                _nodeTimeout = start.NodeTimeout;
                _switch.Tell(new Switch.Subscribe(Self));
                DialMore();
                break;
            case Reactor.PeerAdded added when _walk.IsInFlight(added.Peer.Id):
                _peers[added.Peer.Id] = added.Peer;
                _walk.Connected(added.Peer.Id, added.Peer.NodeInfo);
                added.Peer.Send(PexConstants.Channel, PexMessage.EncodeRequest());
                break;
            case Reactor.PeerAdded added:
                // Not one we dialled (we do not listen, so this should not happen): nothing to learn from it.
                added.Peer.Actor.Tell(new Peer.Stop(PeerStopReason.Stopped("crawler: not dialled by us"), Graceful: true));
                break;
            case Reactor.Received received:
                OnReceived(received);
                break;
            case Reactor.PeerRemoved removed:
                _peers.Remove(removed.Peer.Id);
                Finish(removed.Peer.Id, removed.Reason.ToString());
                break;
            case Switch.ConnectionRejected rejected when rejected.Dialled is { } dialled:
                Finish(dialled.Id, rejected.Reason.ToString());
                break;
            case NodeTimedOut timedOut:
                if (_peers.Remove(timedOut.Id, out var silent))
                    silent.Actor.Tell(new Peer.Stop(PeerStopReason.Stopped("crawler: no PEX answer"), Graceful: false));
                Finish(timedOut.Id, $"no PEX answer within {_nodeTimeout.TotalSeconds:0.###} s");
                break;
            case AwaitResult:
                if (_result is not null) Sender.Tell(_result);
                else _awaiters.Add(Sender);
                break;
            case StopWalk:
                if (_result is null)
                {
                    var notTried = _walk.Pending;
                    _walk.Abandon();
                    Complete(finished: false, notTried);
                }
                Sender.Tell(_result!);
                break;
            case GetProgress:
                Sender.Tell(new Progress(_walk.Nodes.Count, _walk.Nodes.Count(n => n.Reachable == true), _walk.InFlight, _walk.Pending));
                break;
            default:
                break; // switch events we do not need (Listening, PeerConnected, PeerDisconnected)
        }
    }

    private void OnReceived(Reactor.Received received)
    {
        var peer = received.Peer;
        PexMessage message;
        try
        {
            message = PexMessage.Decode(received.Message.Span);
        }
        catch (PexViolationException e)
        {
            peer.Actor.Tell(new Peer.Stop(PeerStopReason.FromException(e), Graceful: false));
            Finish(peer.Id, e.Message);
            return;
        }
        switch (message)
        {
            case PexMessage.Request:
                peer.Send(PexConstants.Channel, PexMessage.EncodeAddrs([])); // we vouch for no one
                break;
            case PexMessage.Addrs addrs when _walk.IsInFlight(peer.Id):
                _walk.Answered(peer.Id, addrs.Addresses);
                Timers.Cancel(peer.Id);
                _peers.Remove(peer.Id);
                peer.Actor.Tell(new Peer.Stop(PeerStopReason.Stopped("crawler: answered"), Graceful: true));
                DialMore();
                break;
        }
    }

    private void Finish(NodeId id, string? error)
    {
        if (!_walk.IsInFlight(id)) return;
        Timers.Cancel(id);
        _walk.Finished(id, error);
        DialMore();
    }

    private void DialMore()
    {
        if (_result is not null) return;
        foreach (var address in _walk.NextToDial(_concurrency))
        {
            _switch.Tell(new Switch.DialPeers([address]));
            // Covers the dial, the upgrade and the answer; a dial the switch ignores ends here too.
            Timers.StartSingleTimer(address.Id, new NodeTimedOut(address.Id), _nodeTimeout);
        }
        if (_walk.IsDone)
            Complete(finished: true, notTried: 0);
    }

    private void Complete(bool finished, int notTried)
    {
        _result = new Result(_walk.Nodes.ToList(), finished, notTried);
        foreach (var awaiter in _awaiters) awaiter.Tell(_result);
        _awaiters.Clear();
        foreach (var peer in _peers.Values)
            peer.Actor.Tell(new Peer.Stop(PeerStopReason.Stopped("crawler: done"), Graceful: true));
    }
}
