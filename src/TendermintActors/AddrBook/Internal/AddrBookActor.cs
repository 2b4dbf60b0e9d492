using System.Globalization;
using Akka.Actor;
using Akka.Event;
using TendermintActors.Logging;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;
using static TendermintActors.Pex.AddrBook;

namespace TendermintActors.Pex.Internal;

/// <summary>
/// Owns the <see cref="AddressBook"/> and its file. File I/O happens inside the actor on purpose: the file is small
/// (at most ~20k entries, a few MB in the worst case), written once per save interval and on stop, and doing it here
/// keeps the book single-owner with no snapshot handed to another thread; callers never wait on it on a hot path.
/// </summary>
internal sealed class AddrBookActor : UntypedActor, IWithTimers
{
    private const string SaveTimerKey = "save";

    private readonly AddrBook.Settings _settings;
    private readonly Random _random;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private AddressBook _book;

    // False when the file on disk could not be read and could not be set aside: overwriting it would lose it.
    private bool _persist = true;

    public AddrBookActor(AddrBook.Settings settings)
    {
        _settings = settings;
        _random = settings.RandomSeed is { } seed ? new Random(seed) : new Random();
        _book = AddressBook.CreateNew(settings.Strict, _random);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly HashSet<NodeId> _privateIds = [];

    private DateTime Now => _settings.Clock();

    protected override void PreStart()
    {
        _book = Load();
        _privateIds.UnionWith(_settings.PrivateIds);
        _book.SetPrivateIDs(_privateIds);
        foreach (var addr in _settings.OurAddresses)
            _book.AddOurAddress(addr);
        if (_settings.SaveInterval > TimeSpan.Zero)
            Timers.StartPeriodicTimer(SaveTimerKey, SaveTick.Instance, _settings.SaveInterval);
    }

    protected override void PostStop()
    {
        if (_persist)
        {
            try
            {
                WriteFile();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Error(e, "Could not save the address book to {0} on stop", _settings.FilePath);
            }
        }
        base.PostStop();
    }

    private readonly LogOnce _unroutableLogged = new();

    /// <summary>
    /// Refusals are routine (Debug), except an unroutable address in strict mode, which on a local test network
    /// refuses every peer: Info once per address, with what such a network must set.
    /// </summary>
    private void LogRefused(NetAddress addr, NetAddress src, string reason)
    {
        if (_settings.Strict && addr.Ip is { } ip && IpRanges.InvalidReason(ip) is null && IpRanges.UnroutableReason(ip) is not null
            && _unroutableLogged.First(addr.HostPort))
            _log.Info("Address book refused {Addr} from {Source}: {Reason} (logged once per address; {Hint})", addr, src, reason,
                LogOnce.LocalNetworkHint);
        else
            _log.Debug("Address book refused {Addr} from {Source}: {Reason}", addr, src, reason);
    }

    // Set while a Query's command runs: its reply goes back wrapped in an Answer with this ID.
    private long? _queryId;

    private void Reply(object answer) => Sender.Tell(_queryId is { } id ? new Answer(id, answer) : answer);

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Query { Command: not Query } query:
                _queryId = query.Id;
                try
                {
                    OnReceive(query.Command);
                }
                finally
                {
                    _queryId = null;
                }
                break;
            case AddAddress add:
                var result = _book.AddAddress(add.Addr, add.Src, Now);
                if (result is AddResult.Refused refused)
                    LogRefused(add.Addr, add.Src, refused.Reason);
                Reply(result);
                break;
            case AddAddresses batch:
                var accepted = new List<NetAddress>(batch.Addrs.Count);
                foreach (var addr in batch.Addrs)
                {
                    if (_book.AddAddress(addr, batch.Src, Now) is AddResult.Refused no)
                        LogRefused(addr, batch.Src, no.Reason);
                    else
                        accepted.Add(addr);
                }
                Reply(new AddedAddresses(accepted, batch.Addrs.Count - accepted.Count));
                break;
            case RemoveAddress remove:
                _book.RemoveAddress(remove.Addr);
                break;
            case MarkAttempt attempt:
                _book.MarkAttempt(attempt.Addr, Now);
                break;
            case MarkGood good:
                _book.MarkGood(good.Id, Now);
                break;
            case MarkBad bad:
                _book.MarkBad(bad.Addr, bad.BanTime, Now);
                break;
            case ReinstateBadPeers:
                Reply(new Reinstated(_book.ReinstateBadPeers(Now)));
                break;
            case PickAddress pick:
                Reply(new Picked(_book.PickAddress(pick.BiasTowardsNewPercent, _random)));
                break;
            case PickAddresses picks:
                var picked = new List<NetAddress>(picks.Tries);
                for (var i = 0; i < picks.Tries; i++)
                    if (_book.PickAddress(picks.BiasTowardsNewPercent, _random) is { } one)
                        picked.Add(one);
                Reply(new PickedAddresses(picked, _book.NeedMoreAddrs(), _book.Size));
                break;
            case GetSelection:
                Reply(new Selection(_book.GetSelection(_random)));
                break;
            case GetSelectionWithBias bias:
                Reply(new Selection(_book.GetSelectionWithBias(bias.BiasTowardsNewPercent, _random)));
                break;
            case NeedMoreAddrs:
                Reply(_book.NeedMoreAddrs());
                break;
            case Size:
                Reply(_book.Size);
                break;
            case AddPrivateIds privateIds:
                _privateIds.UnionWith(privateIds.Ids);
                _book.SetPrivateIDs(_privateIds);
                break;
            case AddOurAddress ours:
                if (_book.Get(ours.Addr.Id) is { } stored && stored.Addr == ours.Addr)
                    _book.RemoveAddress(ours.Addr);
                _book.AddOurAddress(ours.Addr);
                break;
            case GetAddresses:
                Reply(new Addresses(_book.KnownAddresses.Select(Snapshot).ToList()));
                break;
            case Save:
                HandleSave(Reply);
                break;
            case SaveTick:
                // Saving never prunes: as in Go, bad addresses go only when their new bucket overflows
                // (AddressBook.ExpireNew), so the book of a node that was offline for a month keeps its addresses.
                HandleSave(_ => { });
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void HandleSave(Action<object> reply)
    {
        if (!_persist)
        {
            var refusal = new InvalidOperationException(
                $"the address book file {_settings.FilePath} could not be read nor set aside at start; not overwriting it");
            reply(new Status.Failure(refusal));
            return;
        }
        try
        {
            WriteFile();
            reply(new Saved(_settings.FilePath, _book.Size));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk or a permission problem must not take the book down; the next save tries again.
            _log.Error(e, "Could not save the address book to {0}", _settings.FilePath);
            reply(new Status.Failure(e));
        }
    }

    private void WriteFile()
    {
        AddrBookFile.Write(_settings.FilePath, _book);
        _log.Debug("Saved {0} addresses to {1}", _book.Size, _settings.FilePath);
    }

    private AddressBook Load()
    {
        var path = _settings.FilePath;
        string json;
        try
        {
            if (!File.Exists(path))
                return AddressBook.CreateNew(_settings.Strict, _random);
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _persist = false;
            _log.Error(e, "Could not read the address book {0}; starting empty and leaving the file untouched", path);
            return AddressBook.CreateNew(_settings.Strict, _random);
        }

        try
        {
            var book = AddrBookJson.Deserialize(json, _settings.Strict, _random);
            _log.Info("Loaded {0} addresses from {1}", book.Size, path);
            return book;
        }
        catch (AddrBookFileCorruptException e)
        {
            SetAside(path, e.Message);
            return AddressBook.CreateNew(_settings.Strict, _random);
        }
    }

    private void SetAside(string path, string reason)
    {
        var stamp = Now.ToUniversalTime().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var target = $"{path}.corrupt-{stamp}";
        for (var n = 1; File.Exists(target); n++)
            target = $"{path}.corrupt-{stamp}-{n}";
        try
        {
            File.Move(path, target);
            _log.Warning("The address book {0} is corrupt ({1}); kept it as {2} and starting with an empty book", path, reason, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _persist = false;
            _log.Error(e, "The address book {0} is corrupt ({1}) and could not be set aside; starting empty without saving", path, reason);
        }
    }

    private static AddressInfo Snapshot(KnownAddress ka) => new(
        ka.Addr, ka.Src, ka.BucketType, ka.Buckets.ToList(), ka.Attempts, ka.LastAttempt, ka.LastSuccess, ka.LastBanTime);

    private sealed class SaveTick
    {
        public static readonly SaveTick Instance = new();
    }
}
