using Akka.Actor;
using TendermintActors.Pex.Internal;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;

// Go keeps the address book in p2p/pex beside the PEX reactor; a namespace named AddrBook would also hide this class
// from every caller inside TendermintActors.*, so the namespace follows Go rather than the folder.
namespace TendermintActors.Pex;

/// <summary>
/// The node's address book (docs/protocol.md §8): an actor around the sans-IO <see cref="AddressBook"/> that owns the
/// book's clock, randomness and its file (loaded at start, saved every <see cref="Settings.SaveInterval"/> and on stop).
/// </summary>
public static class AddrBook
{
    /// <summary>Every message the address book actor accepts.</summary>
    public interface IAddrBookCommand;

    /// <summary>Replies with the model's <see cref="AddResult"/>.</summary>
    public sealed record AddAddress(NetAddress Addr, NetAddress Src) : IAddrBookCommand;

    /// <summary>
    /// Adds each address with the same source; replies <see cref="AddedAddresses"/> with those the book did not refuse
    /// (new or already known), in order. PEX uses it for a whole <c>PexAddrs</c>.
    /// </summary>
    public sealed record AddAddresses(IReadOnlyList<NetAddress> Addrs, NetAddress Src) : IAddrBookCommand;

    public sealed record AddedAddresses(IReadOnlyList<NetAddress> Accepted, int Refused);

    /// <summary>We are dialling it; no reply.</summary>
    public sealed record MarkAttempt(NetAddress Addr) : IAddrBookCommand;

    /// <summary>A successful connection moves the address to an old bucket; no reply.</summary>
    public sealed record MarkGood(NodeId Id) : IAddrBookCommand;

    /// <summary>Removes the address without banning it; no reply.</summary>
    public sealed record RemoveAddress(NetAddress Addr) : IAddrBookCommand;

    /// <summary>Removes the address and bans its ID for <see cref="BanTime"/>; no reply.</summary>
    public sealed record MarkBad(NetAddress Addr, TimeSpan BanTime) : IAddrBookCommand;

    /// <summary>Returns addresses whose ban has ended to a new bucket; replies <see cref="Reinstated"/>.</summary>
    public sealed record ReinstateBadPeers : IAddrBookCommand
    {
        public static readonly ReinstateBadPeers Instance = new();
    }

    public sealed record Reinstated(IReadOnlyList<NetAddress> Addrs);

    /// <summary>Replies <see cref="Picked"/>; <see cref="BiasTowardsNewPercent"/> is 0-100.</summary>
    public sealed record PickAddress(int BiasTowardsNewPercent) : IAddrBookCommand;

    /// <summary>The address to dial, or null when the book is empty.</summary>
    public sealed record Picked(NetAddress? Addr);

    /// <summary>
    /// <see cref="PickAddress"/> <paramref name="Tries"/> times (picks may repeat); replies <see cref="PickedAddresses"/>,
    /// which also says whether the book needs more addresses. One round trip for PEX's ensure-peers round.
    /// </summary>
    public sealed record PickAddresses(int BiasTowardsNewPercent, int Tries) : IAddrBookCommand;

    public sealed record PickedAddresses(IReadOnlyList<NetAddress> Picks, bool NeedMoreAddrs, int Size);

    /// <summary>A random selection to gossip; replies <see cref="Selection"/>.</summary>
    public sealed record GetSelection : IAddrBookCommand
    {
        public static readonly GetSelection Instance = new();
    }

    /// <summary>Like <see cref="GetSelection"/>, weighing new against old addresses; replies <see cref="Selection"/>.</summary>
    public sealed record GetSelectionWithBias(int BiasTowardsNewPercent) : IAddrBookCommand;

    public sealed record Selection(IReadOnlyList<NetAddress> Addrs);

    /// <summary>Replies a <see cref="bool"/>: true while the book holds fewer than <see cref="AddressBook.NeedAddressThreshold"/> addresses.</summary>
    public sealed record NeedMoreAddrs : IAddrBookCommand
    {
        public static readonly NeedMoreAddrs Instance = new();
    }

    /// <summary>Replies an <see cref="int"/>: how many addresses the book holds (banned ones excluded).</summary>
    public sealed record Size : IAddrBookCommand
    {
        public static readonly Size Instance = new();
    }

    /// <summary>One of our own addresses, never stored nor handed out (removed if it was stored); no reply.</summary>
    public sealed record AddOurAddress(NetAddress Addr) : IAddrBookCommand;

    /// <summary>
    /// More private peer IDs (Go's AddPrivateIDs, for RPC's <c>dial_peers</c> with <c>private</c>): their addresses
    /// are refused from now on, as addresses and as sources; no reply.
    /// </summary>
    public sealed record AddPrivateIds(IReadOnlyList<NodeId> Ids) : IAddrBookCommand;

    /// <summary>Every stored address with its bucket placement; replies <see cref="Addresses"/>.</summary>
    public sealed record GetAddresses : IAddrBookCommand
    {
        public static readonly GetAddresses Instance = new();
    }

    public sealed record Addresses(IReadOnlyList<AddressInfo> Entries);

    /// <summary>An immutable copy of a book entry (the model's entries are mutable and stay inside the actor).</summary>
    public sealed record AddressInfo(
        NetAddress Addr,
        NetAddress Src,
        BucketType BucketType,
        IReadOnlyList<int> Buckets,
        int Attempts,
        DateTime LastAttempt,
        DateTime LastSuccess,
        DateTime LastBanTime);

    /// <summary>Writes the file now; replies <see cref="Saved"/>, or <see cref="Status.Failure"/> when it could not.</summary>
    public sealed record Save : IAddrBookCommand
    {
        public static readonly Save Instance = new();
    }

    public sealed record Saved(string FilePath, int Size);

    /// <summary>
    /// Runs <paramref name="Command"/> and replies its answer wrapped in <see cref="Answer"/> with the same
    /// <paramref name="Id"/>, so that an actor with several questions in flight (PEX) tells the answers apart without
    /// an <c>Ask</c>. A command that has no reply has no answer.
    /// </summary>
    public sealed record Query(long Id, IAddrBookCommand Command) : IAddrBookCommand;

    /// <summary>The reply to the <see cref="Query"/> with this <paramref name="Id"/>.</summary>
    public sealed record Answer(long Id, object Reply);

    /// <summary>Options of the address book (Go's <c>addr-book-file</c>, <c>addr-book-strict</c>, <c>private-peer-ids</c>).</summary>
    public sealed record Settings
    {
        public Settings(string filePath) => FilePath = filePath;

        public string FilePath { get; init; }

        /// <summary>Refuse non-routable addresses (Go's <c>addr-book-strict</c>); turn off for local test networks.</summary>
        public bool Strict { get; init; } = true;

        /// <summary>Go's dumpAddressInterval; zero or less saves only on request and on stop.</summary>
        public TimeSpan SaveInterval { get; init; } = TimeSpan.FromMinutes(2);

        public IReadOnlyList<NetAddress> OurAddresses { get; init; } = [];

        public IReadOnlySet<NodeId> PrivateIds { get; init; } = new HashSet<NodeId>();

        /// <summary>The book's notion of now (UTC): bans, attempts and the corrupt file's name. Tests pass their own.</summary>
        public Func<DateTime> Clock { get; init; } = () => DateTime.UtcNow;

        /// <summary>Seeds bucket choice and picking so tests are repeatable; null seeds from the system.</summary>
        public int? RandomSeed { get; init; }
    }

    public static Props Props(Settings settings) => Akka.Actor.Props.Create(() => new AddrBookActor(settings));
}
