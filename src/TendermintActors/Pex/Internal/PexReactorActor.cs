using System.Net;
using Akka.Actor;
using Akka.Event;
using TendermintActors.Logging;
using TendermintActors.Peers;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.NodeInfo;
using TendermintActors.Protocol.Pex;
using TendermintActors.Switching;
using static TendermintActors.Pex.PexReactor;

namespace TendermintActors.Pex.Internal;

/// <summary>
/// The PEX reactor's actor (see <see cref="PexReactor"/>). States: <see cref="Starting"/> (seeds resolved, book size
/// known) → <see cref="Running"/>. The protocol's rules live in the sans-IO types of TendermintActors.Protocol.Pex;
/// this actor owns time, the book and switch conversations. Book questions are <see cref="Pex.AddrBook.Query"/>s told
/// to the book: each keeps what its answer is for (the peer or round it belongs to) under its ID until the
/// <see cref="Pex.AddrBook.Answer"/> arrives, or its timer says the book did not answer.
/// </summary>
internal sealed class PexReactorActor : UntypedReactorActor, IWithUnboundedStash, IWithTimers
{
    private const string RoundTimer = "round";
    private static readonly TimeSpan BookTimeout = TimeSpan.FromSeconds(10);

    private const string BookTimer = "book";

    private sealed record StartChecked(int SeedsResolved, IReadOnlyList<string> Unresolved, int BookSize);
    private sealed record SeedsChecked(int Resolved, IReadOnlyList<string> Unresolved);
    private sealed record EnsureRound;
    private sealed record CrawlRound;
    private sealed record BookPicks(IReadOnlyList<NetAddress> Addrs, bool NeedMoreAddrs);
    private sealed record BookTimedOut(long Id);
    private sealed record DialSeedsNow;

    // What a book question in flight is for; its answer is handled with it.
    private abstract record BookQuestion(string What);
    private sealed record SizeAtStart() : BookQuestion("size at start");
    private sealed record SelectionFor(PeerHandle Peer, bool ThenDisconnect) : BookQuestion("selection");
    private sealed record AddedFrom(PeerHandle Peer, bool FromSeed) : BookQuestion("add addresses");
    private sealed record NeedMoreFor(PeerHandle Peer) : BookQuestion("need more addresses");
    private sealed record PicksFor(Switch.DialState State) : BookQuestion("picks");
    private sealed record CrawlSelectionFor(Switch.DialState State) : BookQuestion("crawl selection");
    private sealed record FirstEnsure;

    private readonly PexReactor.Settings _settings;
    private readonly IActorRef _book;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Random _random;
    private readonly PexRequestLimiter _limiter;
    private readonly DialBackoff _backoff;
    private readonly CrawlHistory _crawls;
    private readonly HashSet<NodeId> _seedIds;
    private readonly Dictionary<NodeId, (PeerHandle Peer, DateTimeOffset Since)> _peers = [];
    private readonly HashSet<NodeId> _requestsSent = [];
    private readonly HashSet<NodeId> _seedServed = [];
    private readonly Dictionary<NodeId, NetAddress> _dials = []; // dials PEX started, until the switch says how they went
    private readonly Queue<NetAddress> _seedQueue = new();
    private NetAddress? _seedInFlight;
    private readonly Dictionary<long, BookQuestion> _bookQuestions = [];
    private long _lastBookQuestion;
    private SeedsChecked? _seedsChecked;
    private int? _bookSizeAtStart;
    private StartReport? _startReport;
    private readonly IActorRef _switch;
    private int _rounds;
    private bool _firstRound;

    public PexReactorActor(PexReactor.Settings settings, IActorRef book, IActorRef @switch)
    {
        _settings = settings;
        _book = book;
        _switch = @switch;
        _random = settings.RandomSeed is { } seed ? new Random(seed) : new Random();
        _limiter = new PexRequestLimiter(PexConstants.MinReceiveRequestInterval(settings.EnsurePeersPeriod), settings.EarlyRequestsTolerated);
        _backoff = new DialBackoff(_random.NextDouble, settings.MaxAttemptsToDial, settings.PersistentPeersMaxDialPeriod);
        _crawls = new CrawlHistory(settings.MinTimeBetweenCrawls);
        _seedIds = settings.Seeds.Select(s => s.Id).ToHashSet();
    }

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The scheduler's clock, so that specs on Akka's TestScheduler move it with the timers.</summary>
    private DateTimeOffset Now => Context.System.Scheduler.Now;

    protected override void PreStart()
    {
        _switch.Tell(new Switch.Subscribe(Self));
        CheckStart();
        Become(Starting);
    }

    protected override void OnReceive(object message) => Unhandled(message);

    // --- the address book, asked by messages -------------------------------------------------------------------------

    /// <summary>Tells the book <paramref name="command"/> as a query; its answer comes back with <paramref name="question"/>.</summary>
    private void QueryBook(Pex.AddrBook.IAddrBookCommand command, BookQuestion question)
    {
        var id = ++_lastBookQuestion;
        _bookQuestions[id] = question;
        Timers.StartSingleTimer((BookTimer, id), new BookTimedOut(id), BookTimeout);
        _book.Tell(new Pex.AddrBook.Query(id, command));
    }

    /// <summary>The question with this ID, no longer in flight; null when it was answered or timed out already.</summary>
    private BookQuestion? TakeQuestion(long id)
    {
        if (!_bookQuestions.Remove(id, out var question)) return null;
        Timers.Cancel((BookTimer, id));
        return question;
    }

    /// <summary>Go's checkSeeds: resolve every seed (reporting those that do not resolve) and look at the book's size.</summary>
    private void CheckStart()
    {
        var seeds = _settings.Seeds;
        var resolve = _settings.Resolve;
        QueryBook(Pex.AddrBook.Size.Instance, new SizeAtStart());
        Task.Run(async () =>
        {
            var unresolved = new List<string>();
            var resolved = 0;
            foreach (var seed in seeds)
            {
                if (seed.Ip is not null)
                {
                    resolved++;
                    continue;
                }
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    var addresses = await resolve(seed.Host, cts.Token).ConfigureAwait(false);
                    if (addresses.Length > 0) resolved++;
                    else unresolved.Add($"{seed}: {seed.Host} has no address");
                }
                catch (Exception e)
                {
                    unresolved.Add($"{seed}: {e.Message}");
                }
            }
            return new SeedsChecked(resolved, unresolved);
        }).PipeTo(Self);
    }

    private void Starting(object message)
    {
        switch (message)
        {
            case SeedsChecked seeds:
                _seedsChecked = seeds;
                StartWhenChecked();
                break;
            case Pex.AddrBook.Answer { Reply: int size } answer when TakeQuestion(answer.Id) is SizeAtStart:
                _bookSizeAtStart = size;
                StartWhenChecked();
                break;
            case BookTimedOut timedOut when TakeQuestion(timedOut.Id) is SizeAtStart:
                // The book did not answer in time: start as if it were empty, so that the seeds are used.
                _log.Warning("PEX: the address book did not answer ({0} within {1}); starting as if it were empty",
                    "size at start", LogOnce.Seconds(BookTimeout));
                _bookSizeAtStart = 0;
                StartWhenChecked();
                break;
            case Switch.Listening listening:
                OnListening(listening);
                break;
            default:
                Stash.Stash(); // a stashed Received is acknowledged by the base at once: held, not buffered by the peer
                break;
        }
    }

    private void StartWhenChecked()
    {
        if (_seedsChecked is { } seeds && _bookSizeAtStart is { } size)
            Started(new StartChecked(seeds.Resolved, seeds.Unresolved, size));
    }

    private void Started(StartChecked check)
    {
        var warnings = new List<string>();
        foreach (var problem in check.Unresolved)
        {
            warnings.Add($"seed does not resolve: {problem}");
            _log.Warning("PEX: seed does not resolve: {0} (tried again at every dial)", problem);
        }
        string? error = null;
        if (_settings.Seeds.Count > 0 && check.SeedsResolved == 0 && check.BookSize == 0)
        {
            error = $"tendermint.p2p.seeds: none of the {_settings.Seeds.Count} seed(s) resolves and the address book is empty, " +
                    "so this node has no way to find peers";
            _log.Error("PEX: {0}; retrying the seeds every round", error);
        }
        else if (_settings.Seeds.Count == 0 && check.BookSize == 0 && !_settings.SeedMode)
        {
            const string lonely = "no seeds and an empty address book: this node learns addresses only from peers that dial it and from persistent peers";
            warnings.Add(lonely);
            _log.Warning("PEX: {0}", lonely);
        }
        _startReport = new StartReport(check.SeedsResolved, check.BookSize, warnings, error);
        _log.Info("PEX started ({0} mode; {1} seed(s), {2} address(es) in the book)", _settings.SeedMode ? "seed" : "normal",
            _settings.Seeds.Count, check.BookSize);

        Become(Running);
        Stash.UnstashAll();
        if (_settings.SeedMode)
        {
            // Go's crawlPeersRoutine: ask the seeds first, else crawl the book at once; then every crawl period.
            if (_settings.Seeds.Count > 0)
                _switch.Tell(new Switch.GetDialState(new DialSeedsNow()));
            else
                Self.Tell(new CrawlRound());
            Timers.StartPeriodicTimer(RoundTimer, new CrawlRound(), _settings.CrawlPeriod);
        }
        else
        {
            // Go's ensurePeersRoutine: at once (a node with no peers should not wait), then every period; the jitter
            // Go applies when the node already has peers is applied in OnDialState for the first round.
            _firstRound = true;
            Self.Tell(new EnsureRound());
        }
    }

    private void Running(object message)
    {
        switch (message)
        {
            case Reactor.PeerAdded added:
                OnPeerAdded(added.Peer);
                break;
            case Reactor.Received received:
                OnReceived(received);
                break;
            case Reactor.PeerRemoved removed:
                OnPeerRemoved(removed.Peer);
                break;
            case EnsurePeers or EnsureRound:
                if (!_settings.SeedMode) _switch.Tell(new Switch.GetDialState(new EnsureRound()));
                break;
            case Crawl or CrawlRound:
                if (_settings.SeedMode) _switch.Tell(new Switch.GetDialState(new CrawlRound()));
                break;
            case FirstEnsure:
                Timers.StartPeriodicTimer(RoundTimer, new EnsureRound(), _settings.EnsurePeersPeriod);
                _switch.Tell(new Switch.GetDialState(new EnsureRound()));
                break;
            case Switch.DialState state:
                OnDialState(state);
                break;
            case Pex.AddrBook.Answer answer:
                OnBookAnswer(answer);
                break;
            case BookTimedOut timedOut:
                if (TakeQuestion(timedOut.Id) is { } question)
                    _log.Warning("PEX: the address book did not answer ({0} within {1})", question.What, LogOnce.Seconds(BookTimeout));
                break;
            case Switch.PeerConnected connected:
                OnDialSucceeded(connected.Peer);
                break;
            case Switch.ConnectionRejected rejected:
                OnDialFailed(rejected);
                break;
            case Switch.Listening listening:
                OnListening(listening);
                break;
            case Switch.PeerDisconnected:
                break; // PeerRemoved tells us, in order with the peer's messages
            case AwaitStart:
                Sender.Tell(_startReport!);
                break;
            case GetStatus:
                Sender.Tell(new PexReactor.Status(_settings.SeedMode, _peers.Count, _requestsSent.Count, _dials.Count, _rounds));
                break;
            case Protocol.AddrBook.AddResult or Pex.AddrBook.Reinstated:
                break; // answers we do not need
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnBookAnswer(Pex.AddrBook.Answer answer)
    {
        switch (TakeQuestion(answer.Id), answer.Reply)
        {
            case (null, _):
                break; // it timed out, and was reported then
            case (SelectionFor selection, Pex.AddrBook.Selection s):
                OnSendSelection(selection.Peer, s.Addrs, selection.ThenDisconnect);
                break;
            case (AddedFrom added, Pex.AddrBook.AddedAddresses a):
                if (added.FromSeed)
                    foreach (var addr in a.Accepted)
                        Dial(addr, persistent: false);
                break;
            case (NeedMoreFor more, bool yes):
                if (yes && _peers.ContainsKey(more.Peer.Id)) RequestAddrs(more.Peer);
                break;
            case (PicksFor picks, Pex.AddrBook.PickedAddresses p):
                OnPicks(picks.State, new BookPicks(p.Picks, p.NeedMoreAddrs));
                break;
            case (CrawlSelectionFor crawl, Pex.AddrBook.Selection s):
                OnCrawlSelection(crawl.State, s.Addrs);
                break;
            case (var question, var reply):
                _log.Warning("PEX: the address book answered {0} to {1}", reply.GetType().Name, question.What);
                break;
        }
    }

    private void OnListening(Switch.Listening listening)
    {
        if (listening.NodeInfo.ToNetAddressOrNull() is { } ours)
            _book.Tell(new Pex.AddrBook.AddOurAddress(ours));
    }

    // --- peers and their messages -------------------------------------------------------------------------------

    private void OnPeerAdded(PeerHandle peer)
    {
        _peers[peer.Id] = (peer, Now);
        if (peer.IsOutbound)
        {
            // A successful connection makes the address "good" (docs/protocol.md §8; Go leaves it to consensus).
            _book.Tell(new Pex.AddrBook.MarkGood(peer.Id));
            if (_settings.SeedMode)
                RequestAddrs(peer); // a crawled peer: that is what we dialled it for
            else
                QueryBook(Pex.AddrBook.NeedMoreAddrs.Instance, new NeedMoreFor(peer));
        }
        else if (peer.NodeInfo.ToNetAddressOrNull() is { } own)
        {
            // An inbound peer vouches for its own listen address (Go adds it with the peer as its source).
            _book.Tell(new Pex.AddrBook.AddAddress(own, own));
        }
    }

    private void OnPeerRemoved(PeerHandle peer)
    {
        _peers.Remove(peer.Id);
        _requestsSent.Remove(peer.Id);
        // Go keeps the request history of outbound peers across reconnections, and forgets inbound ones.
        if (!peer.IsOutbound)
        {
            _limiter.Forget(peer.Id);
            _seedServed.Remove(peer.Id);
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
            StopForError(peer, e);
            return;
        }
        switch (message)
        {
            case PexMessage.Request:
                OnRequest(peer);
                break;
            case PexMessage.Addrs addrs:
                OnAddrs(peer, addrs.Addresses);
                break;
        }
    }

    private void OnRequest(PeerHandle peer)
    {
        if (_settings.SeedMode && !peer.IsOutbound)
        {
            // A seed answers an inbound peer once, then lets it go (its queued messages flushed first).
            if (!_seedServed.Add(peer.Id)) return;
            QueryBook(new Pex.AddrBook.GetSelectionWithBias(PexConstants.SeedSelectionBias), new SelectionFor(peer, ThenDisconnect: true));
            return;
        }
        switch (_limiter.OnRequest(peer.Id, Now))
        {
            case PexRequestLimiter.Verdict.TooSoon:
                StopForError(peer, new PexViolationException(PexViolation.RequestTooSoon,
                    $"peer {peer.Id} sent a PexRequest less than {_limiter.MinInterval.TotalSeconds:0.###} s after its previous one"));
                return;
            case PexRequestLimiter.Verdict.Forgiven:
                _log.Debug("PEX: peer {Peer} asked for addresses too soon; forgiven once", peer.Id);
                break;
        }
        QueryBook(Pex.AddrBook.GetSelection.Instance, new SelectionFor(peer, ThenDisconnect: false));
    }

    private void OnSendSelection(PeerHandle peer, IReadOnlyList<NetAddress> addrs, bool thenDisconnect)
    {
        if (!_peers.ContainsKey(peer.Id)) return;
        peer.Send(PexConstants.Channel, PexMessage.EncodeAddrs(addrs.Where(a => a.Ip is not null)));
        if (thenDisconnect)
            peer.Actor.Tell(new Peer.Stop(PeerStopReason.Stopped("seed: addresses sent, disconnecting"), Graceful: true));
    }

    private void OnAddrs(PeerHandle peer, IReadOnlyList<NetAddress> addrs)
    {
        if (!_requestsSent.Remove(peer.Id))
        {
            StopForError(peer, new PexViolationException(PexViolation.UnsolicitedAddrs, $"peer {peer.Id} sent addresses we did not ask for"));
            return;
        }
        var src = SourceOf(peer);
        var fromSeed = _seedIds.Contains(peer.Id);
        QueryBook(new Pex.AddrBook.AddAddresses(addrs, src), new AddedFrom(peer, fromSeed));
        _log.Debug("PEX: {Count} addresses from {Peer}", addrs.Count, peer.Id);
        if (_settings.SeedMode && peer.IsOutbound && !peer.IsPersistent)
        {
            // Crawled: we have what we came for. Go keeps it for seed-disconnect-wait-period (28 h), which with the
            // outbound limit would leave a seed unable to crawl on; we let it go at once.
            peer.Actor.Tell(new Peer.Stop(PeerStopReason.Stopped("seed: crawled, disconnecting"), Graceful: true));
        }
    }

    private void RequestAddrs(PeerHandle peer)
    {
        if (!_requestsSent.Add(peer.Id)) return; // one request in flight per peer, as Go
        peer.Send(PexConstants.Channel, PexMessage.EncodeRequest());
    }

    private void StopForError(PeerHandle peer, PexViolationException violation)
    {
        _log.Warning("PEX: stopping peer {Peer}: {Reason}", peer.Id, violation.Message);
        peer.Actor.Tell(new Peer.Stop(PeerStopReason.FromException(violation), Graceful: false));
        if (violation.Bans)
            _book.Tell(new Pex.AddrBook.MarkBad(SourceOf(peer), _settings.BanTime));
    }

    /// <summary>The peer's own address (its listen address, or its socket's IP with that port when it lists a host name).</summary>
    private static NetAddress SourceOf(PeerHandle peer)
    {
        var listen = peer.NodeInfo.ToNetAddressOrNull();
        if (listen is { Ip: not null }) return listen;
        var ip = peer.RemoteIp ?? IPAddress.None;
        return new NetAddress(peer.Id, ip, listen?.Port ?? (peer.RemoteAddress as IPEndPoint)?.Port ?? 0);
    }

    // --- rounds: ensure peers (normal mode) and crawl (seed mode) -------------------------------------------------

    private void OnDialState(Switch.DialState state)
    {
        // The switch answers in order after our dial requests and their outcomes, so a dial of ours that it no longer
        // has was ignored (already connected or dialled, or our own address): forget it, or we would never try again.
        foreach (var (id, _) in _dials.Where(d => !state.Dialling.Contains(d.Key)).ToList())
            _dials.Remove(id);
        if (_seedInFlight is { } seed && !state.Dialling.Contains(seed.Id))
        {
            _seedInFlight = null;
            _seedQueue.Clear();
        }
        switch (state.Tag)
        {
            case EnsureRound when _firstRound:
                _firstRound = false;
                if (state.Peers.Count > 0 || state.Dialling.Count > 0)
                {
                    // Go waits a random part of a period before the first round when it has peers already, so that a
                    // network restarting together does not ask in step.
                    var delay = TimeSpan.FromTicks((long)(_random.NextDouble() * _settings.EnsurePeersPeriod.Ticks));
                    Timers.StartSingleTimer(RoundTimer, new FirstEnsure(), delay);
                    return;
                }
                Timers.StartPeriodicTimer(RoundTimer, new EnsureRound(), _settings.EnsurePeersPeriod);
                EnsureRoundWith(state);
                break;
            case EnsureRound:
                EnsureRoundWith(state);
                break;
            case CrawlRound:
                _rounds++;
                CrawlAttemptDisconnects(state);
                QueryBook(Pex.AddrBook.GetSelection.Instance, new CrawlSelectionFor(state));
                _crawls.Cleanup(Now);
                break;
            case DialSeedsNow:
                DialSeeds(state);
                break;
        }
    }

    private void EnsureRoundWith(Switch.DialState state)
    {
        _rounds++;
        var numToDial = EnsurePeersPlan.NumToDial(state.MaxOutboundPeers, state.Outbound, state.Dialling.Count);
        _log.Debug("PEX: ensure peers: {0} outbound, {1} inbound, {2} dialling, {3} to dial", state.Outbound, state.Inbound,
            state.Dialling.Count, Math.Max(numToDial, 0));
        if (numToDial <= 0) return;
        var bias = PexConstants.NewBucketBias(state.Outbound);
        QueryBook(new Pex.AddrBook.PickAddresses(bias, EnsurePeersPlan.PickTries(numToDial)), new PicksFor(state));
    }

    private void OnPicks(Switch.DialState state, BookPicks book)
    {
        var numToDial = EnsurePeersPlan.NumToDial(state.MaxOutboundPeers, state.Outbound, state.Dialling.Count);
        var toDial = EnsurePeersPlan.Choose(book.Addrs, numToDial, a => state.IsDiallingOrConnected(a) || _dials.ContainsKey(a.Id));
        foreach (var addr in toDial)
            Dial(addr, state.IsPersistent(addr.Id));
        if (!book.NeedMoreAddrs) return;
        _book.Tell(Pex.AddrBook.ReinstateBadPeers.Instance);
        // Ask one random peer for more, and fall back to the seeds when the book gave nothing to dial (this also
        // works around peers that do not take part in PEX).
        var connected = _peers.Values.Select(p => p.Peer).ToList();
        if (connected.Count > 0)
            RequestAddrs(connected[_random.Next(connected.Count)]);
        if (toDial.Count == 0)
        {
            _log.Debug("PEX: no addresses to dial; falling back to the seeds");
            DialSeeds(state);
        }
    }

    private void CrawlAttemptDisconnects(Switch.DialState state)
    {
        var now = Now;
        foreach (var (peer, since) in _peers.Values)
            if (now - since >= _settings.SeedDisconnectWaitPeriod && !peer.IsPersistent && !state.IsPersistent(peer.Id))
                peer.Actor.Tell(new Peer.Stop(PeerStopReason.Stopped("seed: connected longer than seed-disconnect-wait-period"), Graceful: true));
    }

    private void OnCrawlSelection(Switch.DialState state, IReadOnlyList<NetAddress> addrs)
    {
        var now = Now;
        foreach (var addr in addrs)
        {
            if (state.IsDiallingOrConnected(addr) || _dials.ContainsKey(addr.Id)) continue;
            if (!_crawls.TryStart(addr, now)) continue;
            Dial(addr, state.IsPersistent(addr.Id));
        }
    }

    // --- dialling ---------------------------------------------------------------------------------------------------

    /// <summary>Go's dialPeer: give up on an address that failed too often, wait out its backoff, else dial.</summary>
    private bool Dial(NetAddress addr, bool persistent)
    {
        switch (_backoff.Check(addr, persistent, Now))
        {
            case DialBackoff.Decision.GiveUp giveUp:
                _log.Debug("PEX: giving up on {Addr} after {Attempts} failed dials; marking it bad", addr, giveUp.Attempts);
                _book.Tell(new Pex.AddrBook.MarkBad(addr, _settings.BanTime));
                _backoff.Forget(addr);
                return false;
            case DialBackoff.Decision.TooEarly early:
                _log.Debug("PEX: too early to dial {Addr} again ({Attempts} failed dials; not before {NotBefore})", addr, early.Attempts, LogOnce.At(early.NotBefore.UtcDateTime));
                return false;
        }
        if (_dials.ContainsKey(addr.Id)) return false;
        _dials[addr.Id] = addr;
        _switch.Tell(new Switch.DialPeers([addr]));
        return true;
    }

    private void OnDialSucceeded(PeerHandle peer)
    {
        if (peer.DialledAddress is { } dialled && _dials.Remove(dialled.Id))
            _backoff.Forget(dialled);
        if (_seedInFlight is { } seed && seed.Id == peer.Id)
        {
            _seedInFlight = null;
            _seedQueue.Clear();
        }
    }

    private void OnDialFailed(Switch.ConnectionRejected rejected)
    {
        if (rejected.Dialled is not { } dialled) return;
        if (_dials.TryGetValue(dialled.Id, out var ours) && ours == dialled)
        {
            _dials.Remove(dialled.Id);
            var error = rejected.Reason.Error as PeerConnectionException;
            if (error is NodeInfoRejectedException { Reason: NodeInfoRejection.SelfConnection })
            {
                _book.Tell(new Pex.AddrBook.AddOurAddress(dialled));
                _backoff.Forget(dialled);
            }
            else if (error is { IsAuthFailure: true })
            {
                // Someone else answered at that address: it is wrong (or an attack); drop it from the book.
                _book.Tell(new Pex.AddrBook.MarkBad(dialled, _settings.BanTime));
                _backoff.Forget(dialled);
            }
            else
            {
                _book.Tell(new Pex.AddrBook.MarkAttempt(dialled));
                _backoff.RecordFailure(dialled, Now);
            }
            _log.Debug("PEX: dialling {Addr} failed ({Attempts} attempts): {Reason}", dialled, _backoff.Attempts(dialled), rejected.Reason);
        }
        if (_seedInFlight is { } seed && seed.Id == dialled.Id)
        {
            _seedInFlight = null;
            // One line per failed seed, at Info: which seed, why, and when the seeds are tried again.
            if (_seedQueue.Count > 0)
                _log.Info("PEX: could not dial seed {Peer}: {Reason}; trying the next seed now", seed, rejected.Reason);
            else
            {
                var round = _settings.SeedMode ? _settings.CrawlPeriod : _settings.EnsurePeersPeriod;
                _log.Info("PEX: could not dial seed {Peer}: {Reason}; the seeds are dialled again next round, in {Delay} at {RetryAt}",
                    seed, rejected.Reason, LogOnce.Seconds(round), LogOnce.At(DateTime.UtcNow + round));
            }
            DialNextSeed();
        }
    }

    /// <summary>Go's dialSeeds: the seeds in random order, one at a time, until one connects.</summary>
    private void DialSeeds(Switch.DialState state)
    {
        if (_settings.Seeds.Count == 0 || _seedInFlight is not null) return;
        if (_settings.Seeds.Any(state.IsDiallingOrConnected)) return; // one is there already
        _seedQueue.Clear();
        foreach (var seed in _settings.Seeds.OrderBy(_ => _random.Next()))
            _seedQueue.Enqueue(seed);
        DialNextSeed();
    }

    private void DialNextSeed()
    {
        if (!_seedQueue.TryDequeue(out var seed))
        {
            _log.Warning("PEX: could not connect to any seed");
            return;
        }
        _seedInFlight = seed;
        // Seeds are dialled through the switch directly: they are not in the book, and their backoff is the round.
        _switch.Tell(new Switch.DialPeers([seed]));
    }
}
