using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Pex;

/// <summary>
/// The decisions of one ensure-peers round (docs/protocol.md §7, Go's <c>ensurePeers</c>), without the book or the switch:
/// how many to dial, with which bias, and which of the book's picks to dial.
/// </summary>
public static class EnsurePeersPlan
{
    /// <summary>Outbound slots to fill: max outbound − (outbound + dialling); zero or less means nothing to do.</summary>
    public static int NumToDial(int maxOutbound, int outbound, int dialling) => maxOutbound - (outbound + dialling);

    /// <summary>How many picks to ask the book for (Go tries 3 × the number it needs).</summary>
    public static int PickTries(int numToDial) => Math.Max(numToDial, 0) * PexConstants.PickTriesPerDial;

    /// <summary>
    /// The picks to dial, in pick order: no duplicates, nothing already connected or being dialled (by ID, or by IP
    /// unless duplicates are allowed), at most <paramref name="numToDial"/>.
    /// </summary>
    public static IReadOnlyList<NetAddress> Choose(IEnumerable<NetAddress?> picks, int numToDial, Func<NetAddress, bool> isDiallingOrConnected)
    {
        var chosen = new List<NetAddress>();
        var ids = new HashSet<NodeId>();
        foreach (var pick in picks)
        {
            if (chosen.Count >= numToDial) break;
            if (pick is null || !ids.Add(pick.Id) || isDiallingOrConnected(pick))
                continue;
            chosen.Add(pick);
        }
        return chosen;
    }
}
