using System.Text;

namespace TendermintActors.Node.Bench;

/// <summary>
/// The messages by which <c>bench send</c> tells a <c>bench sink</c> where its runs begin and end, on the measured
/// channel itself so that they arrive in order with the data: <see cref="Kind.Warmup"/> before the warm-up,
/// <see cref="Kind.Timed"/> before the timed run, <see cref="Kind.End"/> after it. The sink counts only what comes
/// between Timed and End. Each is a fixed ASCII text that a bench payload (random bytes) matches with odds of 2^-200
/// or less; any other receiver simply counts them as three short messages.
/// </summary>
internal static class BenchMarker
{
    public enum Kind { Warmup, Timed, End }

    private static readonly byte[] WarmupBytes = Encoding.ASCII.GetBytes("tmactors-bench/v1 warm-up begins");
    private static readonly byte[] TimedBytes = Encoding.ASCII.GetBytes("tmactors-bench/v1 timed run begins");
    private static readonly byte[] EndBytes = Encoding.ASCII.GetBytes("tmactors-bench/v1 timed run ends");

    public static ReadOnlyMemory<byte> Bytes(Kind kind) => kind switch
    {
        Kind.Warmup => WarmupBytes,
        Kind.Timed => TimedBytes,
        Kind.End => EndBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The marker <paramref name="message"/> is, or null for an ordinary message.</summary>
    public static Kind? Of(ReadOnlySpan<byte> message) =>
        message.SequenceEqual(WarmupBytes) ? Kind.Warmup
        : message.SequenceEqual(TimedBytes) ? Kind.Timed
        : message.SequenceEqual(EndBytes) ? Kind.End
        : null;
}
