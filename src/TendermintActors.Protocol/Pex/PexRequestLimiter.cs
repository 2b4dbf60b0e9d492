using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Pex;

/// <summary>
/// Go's rule for PexRequests a peer sends us (docs/protocol.md §7): the first two pass; from then on each must come at
/// least <c>ensure-peers-period / 3</c> after the last one accepted, or the peer is stopped and banned. We may forgive
/// a few early requests per peer (<see cref="PexConstants.DefaultEarlyRequestsTolerated"/>), since honest Go nodes have
/// been seen to send one too soon. No clock of its own: callers pass the time.
/// </summary>
public sealed class PexRequestLimiter(TimeSpan minInterval, int earlyRequestsTolerated = PexConstants.DefaultEarlyRequestsTolerated)
{
    private sealed class History
    {
        public int Requests;
        public DateTimeOffset? Last; // the time the interval counts from, set from the second request on
        public int Forgiven;
    }

    private readonly Dictionary<NodeId, History> _peers = [];

    public TimeSpan MinInterval { get; } = minInterval;

    public enum Verdict
    {
        /// <summary>Answer it.</summary>
        Accept,
        /// <summary>Too soon, but forgiven this once: answer it.</summary>
        Forgiven,
        /// <summary>Too soon: stop the peer and ban its address.</summary>
        TooSoon,
    }

    /// <summary>Records a request from <paramref name="peer"/> at <paramref name="now"/> and says what to do with it.</summary>
    public Verdict OnRequest(NodeId peer, DateTimeOffset now)
    {
        if (!_peers.TryGetValue(peer, out var history))
            _peers[peer] = history = new History();
        history.Requests++;
        if (history.Requests < PexConstants.FreeRequests)
            return Verdict.Accept;
        if (history.Last is not { } last)
        {
            history.Last = now; // the second request passes and starts the clock, as in Go
            return Verdict.Accept;
        }
        if (now - last >= MinInterval)
        {
            history.Last = now;
            return Verdict.Accept;
        }
        if (history.Forgiven < earlyRequestsTolerated)
        {
            history.Forgiven++;
            history.Last = now;
            return Verdict.Forgiven;
        }
        return Verdict.TooSoon;
    }

    /// <summary>When the next request of <paramref name="peer"/> is due at the earliest (null: any time).</summary>
    public DateTimeOffset? NextAllowed(NodeId peer) =>
        _peers.TryGetValue(peer, out var h) && h.Last is { } last ? last + MinInterval : null;

    /// <summary>Forgets a peer (Go forgets inbound peers when they leave and keeps outbound ones' history).</summary>
    public void Forget(NodeId peer) => _peers.Remove(peer);

    public int Tracked => _peers.Count;
}
