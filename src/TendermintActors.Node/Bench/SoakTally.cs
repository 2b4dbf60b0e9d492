using Akka.Actor;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Node.Bench;

/// <summary>What a soak peer did, and the outcomes that say the target behaved.</summary>
internal static class SoakScenarios
{
    public const string WellBehaved = "well-behaved";
    public const string Garbage = "garbage-after-handshake";
    public const string Oversized = "oversized-packet";
    public const string UnknownChannel = "unknown-channel";
    public const string StalledHandshake = "stalled-handshake";

    public static readonly IReadOnlyList<string> Hostile = [Garbage, Oversized, UnknownChannel, StalledHandshake];

    /// <summary>The channels every soak peer declares: PEX, the target's echo and sink.</summary>
    public static readonly byte[] PeerChannels = [PexConstants.Channel, SoakTarget.EchoChannel, SoakTarget.SinkChannel];

    /// <summary>A soak peer's node info. Port 1: the target's PEX learns an address that refuses its dials at once.</summary>
    public static NodeInfoModel PeerInfo(NodeKey key, string network, string name) =>
        NodeInfoModel.Create(key.Id, "tcp://127.0.0.1:1", network, $"soak-{name}", PeerChannels);

    /// <summary>
    /// Outcomes (<c>scenario/result</c>) that are no failure: a well-behaved peer whose every echo came back, a hostile
    /// one the target hung up on, and any peer cut short by the end of the run.
    /// </summary>
    public static bool IsExpected(string outcome) =>
        outcome == $"{WellBehaved}/ok" || outcome.EndsWith("/abandoned", StringComparison.Ordinal) ||
        (outcome.EndsWith("/closed", StringComparison.Ordinal) && !outcome.StartsWith(WellBehaved, StringComparison.Ordinal));
}

/// <summary>
/// The soak client's counts: every peer tells it what it sent and got back and how its connection ended; the
/// reports read a <see cref="Snapshot"/>.
/// </summary>
internal sealed class SoakTally : ReceiveActor
{
    public sealed record Sent(int Count);
    public sealed record Echoed(int Count);

    /// <summary>How one connection ended: <paramref name="Scenario"/>/<paramref name="Result"/>, with a well-behaved peer's counts.</summary>
    public sealed record Outcome(string Scenario, string Result, string? Detail = null, SoakClient.Result? Client = null);

    public sealed record GetSnapshot
    {
        public static readonly GetSnapshot Instance = new();
    }

    /// <param name="Sent">Messages the well-behaved peers gave their connections (echo and sink channels).</param>
    /// <param name="Echoed">Echoes they received.</param>
    /// <param name="Outcomes">Connections by <c>scenario/result</c>.</param>
    /// <param name="Lost">Echo-channel messages of finished well-behaved connections that never came back.</param>
    /// <param name="Duplicates">Echoes that arrived twice or out of order.</param>
    /// <param name="Skipped">Sequence numbers echoes jumped over.</param>
    /// <param name="Rejected">Messages the peers' connections refused to queue (their numbers are skipped).</param>
    /// <param name="SinkSent">Sink-channel messages of finished well-behaved connections.</param>
    /// <param name="PexReceived">Messages the peers received on the PEX channel.</param>
    /// <param name="FirstErrors">The details of the first unexpected outcomes, to say what went wrong.</param>
    public sealed record Snapshot(long Sent, long Echoed, IReadOnlyDictionary<string, long> Outcomes, long Lost, long Duplicates, long Skipped,
        long Rejected, long SinkSent, long PexReceived, IReadOnlyList<string> FirstErrors);

    private const int MaxErrors = 10;

    private long _sent;
    private long _echoed;
    private long _lost;
    private long _duplicates;
    private long _skipped;
    private long _rejected;
    private long _sinkSent;
    private long _pexReceived;
    private readonly Dictionary<string, long> _outcomes = new(StringComparer.Ordinal);
    private readonly List<string> _errors = [];

    public static Props Props() => Akka.Actor.Props.Create(() => new SoakTally());

    public SoakTally()
    {
        Receive<Sent>(s => _sent += s.Count);
        Receive<Echoed>(e => _echoed += e.Count);
        Receive<Outcome>(o =>
        {
            var key = $"{o.Scenario}/{o.Result}";
            _outcomes[key] = _outcomes.GetValueOrDefault(key) + 1;
            if (o.Client is { } c)
            {
                _lost += c.Lost;
                _duplicates += c.Duplicates;
                _skipped += c.Skipped;
                _rejected += c.Rejected;
                _sinkSent += c.SinkSent;
                _pexReceived += c.PexReceived;
            }
            if (!SoakScenarios.IsExpected(key) && _errors.Count < MaxErrors)
                _errors.Add(o.Detail is null ? key : $"{key}: {o.Detail}");
        });
        Receive<GetSnapshot>(_ => Sender.Tell(new Snapshot(_sent, _echoed, new Dictionary<string, long>(_outcomes), _lost, _duplicates, _skipped,
            _rejected, _sinkSent, _pexReceived, [.. _errors])));
    }
}
