using System.Diagnostics;
using System.Net;
using TendermintActors.Peers;
using TendermintActors.Peers.Internal;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Switch;

namespace TendermintActors.Switching;

/// <summary>The switch's decisions, delegated to the sans-IO policies of TendermintActors.Protocol.Switch.</summary>
internal sealed partial class SwitchActor
{
    private AdmissionPolicy _admission = null!;
    private ConnectionAttemptLimiter _attempts = null!;
    private RedialSchedule _redial = null!;
    private HandshakeSlots _slots = null!;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private void InitPolicies()
    {
        _unconditional.UnionWith(_settings.UnconditionalPeerIds);
        _admission = new AdmissionPolicy(new AdmissionSettings(_key.Id)
        {
            MaxInboundPeers = _settings.MaxInboundPeers,
            MaxOutboundPeers = _settings.MaxOutboundPeers,
            AllowDuplicateIp = _settings.AllowDuplicateIp,
            UnconditionalPeerIds = _unconditional,
        });
        _attempts = new ConnectionAttemptLimiter(_settings.MaxIncomingConnectionAttempts, _settings.ConnectionAttemptWindow);
        _redial = new RedialSchedule(_random.NextDouble, _settings.PersistentPeersMaxDialPeriod,
            _settings.PersistentPeersInitialRedials, _settings.PersistentPeersRedialInterval,
            _settings.PersistentPeersBackoffSteps, maxJitter: _settings.PersistentPeersRedialJitter);
        _slots = new HandshakeSlots(_settings.MaxConcurrentHandshakes);
        foreach (var address in _settings.PersistentPeers)
            if (address.Ip is { } ip)
                _slots.Trust(address.Id, ip);
    }

    private bool TryConnectionAttempt(IPAddress ip) => _attempts.TryAttempt(ip, _clock.Elapsed);

    private TimeSpan? NextRedialDelay(int attempt) => _redial.NextDelay(attempt);

    // The policies' view of the peer set, kept beside _peers and _dialling as they change: an admission check reads
    // it as it is instead of copying both (which cost two lists per inbound connection, growing with the peer count).
    private readonly Dictionary<NodeId, ConnectedPeer> _admittedPeers = new();
    private readonly HashSet<NodeId> _diallingIds = new();

    /// <summary>Valid until the switch's next change to its peers or dials; the policies read it at once.</summary>
    private PeerSetSnapshot Snapshot() => new(_admittedPeers.Values, _diallingIds);

    private bool ShouldReplace(PeerHandle existing, PeerHandle candidate) =>
        _admission.ShouldReplace(existing.IsOutbound,
            new PeerCandidate(candidate.Id, candidate.RemoteIp ?? IPAddress.Loopback, candidate.IsOutbound, candidate.IsPersistent));

    /// <summary>Null when the candidate may become a peer; otherwise why not.</summary>
    private PeerStopReason? CheckAdmission(PeerHandle candidate)
    {
        var admission = _admission.AdmitPeer(Snapshot(),
            new PeerCandidate(candidate.Id, candidate.RemoteIp ?? IPAddress.Loopback, candidate.IsOutbound, candidate.IsPersistent));
        return admission is Admission.Rejected rejected
            ? new PeerStopReason("rejected/" + Protocol.Errors.ReasonCode.Kebab(rejected.Reason.ToString()), rejected.Message)
            : null;
    }
}
