using Akka.Actor;
using TendermintActors.Configuration;
using TendermintActors.Pex.Internal;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Pex;

namespace TendermintActors.Pex;

/// <summary>
/// The peer-exchange reactor (docs/protocol.md §7) on channel 0x00: it answers PexRequests from the address book under
/// Go's request-rate rule, asks outbound peers for addresses while the book needs them, keeps the outbound peer set
/// topped up from the book (ensure-peers, every <c>ensure-peers-period</c>), falls back to the seeds, and in seed mode
/// hands out addresses once and crawls the network instead. It is an ordinary reactor that also talks to the address
/// book actor and to the switch, both given at creation (<see cref="Hosting.P2PNode"/> starts it so, as its child <c>pex</c>).
/// </summary>
public static class PexReactor
{
    /// <summary>PEX's channel as CometBFT declares it: 0x00, priority 1, send queue 10, messages up to 64000 bytes.</summary>
    public static ChannelDescriptor Descriptor { get; } = new(PexConstants.Channel, PexConstants.Priority)
    {
        SendQueueCapacity = PexConstants.SendQueueCapacity,
        RecvMessageCapacity = PexConstants.MaxMessageSize,
    };

    public interface ICommand;

    /// <summary>Run an ensure-peers round now (normal mode), as the timer does every ensure-peers-period.</summary>
    public sealed record EnsurePeers : ICommand
    {
        public static readonly EnsurePeers Instance = new();
    }

    /// <summary>Run a crawl round now (seed mode), as the timer does every crawl period.</summary>
    public sealed record Crawl : ICommand
    {
        public static readonly Crawl Instance = new();
    }

    /// <summary>Replies <see cref="StartReport"/> once PEX has started (at once if it has).</summary>
    public sealed record AwaitStart : ICommand
    {
        public static readonly AwaitStart Instance = new();
    }

    /// <summary>
    /// How the start went. <see cref="Error"/> is set when seeds were configured, none resolves and the book is empty
    /// (Go refuses to start then; we keep trying the seeds every round, and <c>tmactors start</c> fails).
    /// <see cref="Warnings"/> name each seed that does not resolve, and an empty book with no seeds.
    /// </summary>
    public sealed record StartReport(int SeedsResolved, int BookSize, IReadOnlyList<string> Warnings, string? Error);

    /// <summary>Replies <see cref="Status"/>.</summary>
    public sealed record GetStatus : ICommand
    {
        public static readonly GetStatus Instance = new();
    }

    /// <param name="SeedMode">True when crawling as a seed.</param>
    /// <param name="Peers">Peers PEX knows of.</param>
    /// <param name="RequestsInFlight">Peers we asked for addresses that have not answered yet.</param>
    /// <param name="DialsInFlight">Dials PEX started whose outcome it has not heard yet.</param>
    /// <param name="Rounds">Ensure-peers or crawl rounds run so far.</param>
    public sealed record Status(bool SeedMode, int Peers, int RequestsInFlight, int DialsInFlight, int Rounds);

    /// <summary>PEX's options; defaults are Go's (see <see cref="PexConstants"/>).</summary>
    public sealed record Settings
    {
        /// <summary>Seed nodes, dialled when the book cannot supply addresses (host names are resolved at each dial).</summary>
        public IReadOnlyList<NetAddress> Seeds { get; init; } = [];

        public bool SeedMode { get; init; }

        public TimeSpan EnsurePeersPeriod { get; init; } = PexConstants.DefaultEnsurePeersPeriod;

        /// <summary>Caps the dial backoff of persistent peers (<c>persistent-peers-max-dial-period</c>); zero: no cap.</summary>
        public TimeSpan PersistentPeersMaxDialPeriod { get; init; }

        public TimeSpan SeedDisconnectWaitPeriod { get; init; } = PexConstants.DefaultSeedDisconnectWaitPeriod;

        public TimeSpan CrawlPeriod { get; init; } = PexConstants.DefaultCrawlPeriod;

        public TimeSpan MinTimeBetweenCrawls { get; init; } = PexConstants.DefaultMinTimeBetweenCrawls;

        public int MaxAttemptsToDial { get; init; } = PexConstants.DefaultMaxAttemptsToDial;

        public TimeSpan BanTime { get; init; } = PexConstants.DefaultBanTime;

        public int EarlyRequestsTolerated { get; init; } = PexConstants.DefaultEarlyRequestsTolerated;

        /// <summary>Resolves a seed's host (DNS) for the start check; tests substitute their own.</summary>
        public Func<string, CancellationToken, Task<System.Net.IPAddress[]>> Resolve { get; init; } =
            (host, ct) => System.Net.Dns.GetHostAddressesAsync(host, ct);

        /// <summary>Seeds the jitter and the choice of peers and seeds, so tests are repeatable; null seeds from the system.</summary>
        public int? RandomSeed { get; init; }

        /// <summary>PEX's settings from a node's validated <c>tendermint.p2p</c>.</summary>
        public static Settings From(P2PSettings p2p) => new()
        {
            Seeds = p2p.Seeds,
            SeedMode = p2p.SeedMode,
            EnsurePeersPeriod = p2p.EnsurePeersPeriod,
            PersistentPeersMaxDialPeriod = p2p.PersistentPeersMaxDialPeriod,
            SeedDisconnectWaitPeriod = p2p.SeedDisconnectWaitPeriod,
            CrawlPeriod = p2p.CrawlPeriod,
            MinTimeBetweenCrawls = p2p.MinTimeBetweenCrawls,
            MaxAttemptsToDial = p2p.PexMaxDialAttempts,
            BanTime = p2p.PexBanTime,
            EarlyRequestsTolerated = p2p.PexEarlyRequestsTolerated,
        };

        /// <summary>
        /// Throws <see cref="ArgumentException"/> naming the first setting out of range (the ranges of the matching
        /// <c>tendermint.p2p</c> keys); <see cref="PexReactor.Props"/> calls it, so settings built in code fail at once
        /// rather than in the actor's timers.
        /// </summary>
        public void Validate()
        {
            ArgumentNullException.ThrowIfNull(Seeds);
            ArgumentNullException.ThrowIfNull(Resolve);
            Positive(nameof(EnsurePeersPeriod), EnsurePeersPeriod);
            Positive(nameof(CrawlPeriod), CrawlPeriod);
            Positive(nameof(BanTime), BanTime);
            NotNegative(nameof(PersistentPeersMaxDialPeriod), PersistentPeersMaxDialPeriod);
            NotNegative(nameof(SeedDisconnectWaitPeriod), SeedDisconnectWaitPeriod);
            NotNegative(nameof(MinTimeBetweenCrawls), MinTimeBetweenCrawls);
            if (BanTime > P2PSettings.MaxBanTime)
                throw new ArgumentException($"{nameof(BanTime)} must be at most {P2PSettings.MaxBanTime.TotalDays:0} days, got {BanTime}");
            if (MaxAttemptsToDial < 1)
                throw new ArgumentException($"{nameof(MaxAttemptsToDial)} must be 1 or more, got {MaxAttemptsToDial}");
            if (EarlyRequestsTolerated < 0)
                throw new ArgumentException($"{nameof(EarlyRequestsTolerated)} must be 0 or more, got {EarlyRequestsTolerated}");
        }

        private static void Positive(string name, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
                throw new ArgumentException($"{name} must be longer than 0, got {value}");
        }

        private static void NotNegative(string name, TimeSpan value)
        {
            if (value < TimeSpan.Zero)
                throw new ArgumentException($"{name} must not be negative, got {value}");
        }
    }

    /// <summary>
    /// The reactor; register it with the switch under <see cref="Descriptor"/>. It subscribes to <paramref name="switch"/>
    /// (or to anything that forwards <see cref="Switching.Switch.ICommand"/>s to it, as <see cref="Hosting.P2PNode"/> does) and
    /// dials through it. Throws <see cref="ArgumentException"/> for settings out of range (<see cref="Settings.Validate"/>).
    /// </summary>
    public static Props Props(Settings settings, IActorRef addrBook, IActorRef @switch)
    {
        settings.Validate();
        return Akka.Actor.Props.Create(() => new PexReactorActor(settings, addrBook, @switch));
    }
}
