namespace TendermintActors.Protocol.AddrBook;

/// <summary>What <see cref="AddressBook.AddAddress"/> did with an address.</summary>
public abstract record AddResult
{
    private AddResult() { }

    /// <summary>The address was not in the book and now is.</summary>
    public sealed record Added : AddResult
    {
        public static readonly Added Instance = new();
    }

    /// <summary>
    /// The ID was already in the book. It may have gone into one more new bucket; the entry itself is unchanged
    /// (a known ID never takes a new IP from gossip, which would let a peer redirect us).
    /// </summary>
    public sealed record AlreadyKnown : AddResult
    {
        public static readonly AlreadyKnown Instance = new();
    }

    /// <summary>The book never takes this address (in its current mode); the reason says why.</summary>
    public sealed record Refused(string Reason) : AddResult;
}
