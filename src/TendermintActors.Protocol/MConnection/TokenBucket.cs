namespace TendermintActors.Protocol.MConnection;

/// <summary>
/// One direction's rate limit (<c>send-rate</c> or <c>recv-rate</c>, docs/protocol.md §5) without I/O or timers: a
/// bucket of byte tokens holding at most <see cref="Burst"/>, spent by what is written or read and refilled by the
/// owner with the time that passed. The MConnection credits that time before each spend, and refills every short
/// tick (10 ms) while the budget is spent, so a connection that spent its budget resumes at the first refill that
/// brings it above zero, not a whole burst period later.
/// </summary>
/// <remarks>
/// The bucket may go negative: one packet or read can be larger than what is left, and a quiet channel may send past
/// a spent budget (<see cref="SendScheduler.TryNextQuietPacket"/>); later refills pay the debt back, so the long-run
/// rate holds even when one tick earns less than a packet. Fractions of a byte earned are carried to the next refill,
/// so rates below 100 B/s hold too. Single-threaded, like <see cref="SendScheduler"/>.
/// </remarks>
public sealed class TokenBucket
{
    /// <summary>A bucket for <paramref name="rate"/> bytes per second (0 = unlimited) holding <paramref name="burstPeriod"/>'s worth.</summary>
    public TokenBucket(long rate, TimeSpan burstPeriod)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rate);
        if (burstPeriod <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(burstPeriod), burstPeriod, "must be positive");
        Rate = rate;
        Burst = Budget(rate, burstPeriod);
        Tokens = Burst;
    }

    /// <summary>Bytes per second; 0 means no limit (the bucket is never spent).</summary>
    public long Rate { get; }

    public bool Limited => Rate > 0;

    /// <summary>Most tokens the bucket holds: the bytes an idle connection may move at once.</summary>
    public long Burst { get; }

    /// <summary>Tokens left; negative while a debt is being paid back.</summary>
    public long Tokens { get; private set; }

    /// <summary>True when something may be moved now (always, without a limit).</summary>
    public bool HasBudget => !Limited || Tokens > 0;

    public bool IsFull => Tokens >= Burst;

    private double _carry;

    /// <summary>
    /// The rate a sender limited to <paramref name="sendRate"/> bytes per second (0 = unlimited) paces itself at: 2 %
    /// under it. A receiver limited to the same rate (both ends at CometBFT's defaults) can drain what waits in its
    /// socket only if the sender is slower than it: at exactly its rate, whatever queued early in a transfer (the
    /// receiver's first read a few ms behind the sender's first write) stays queued ahead of every later message, a
    /// priority one included, for as long as the transfer lasts (docs/performance.md, "Equal limits at both ends: the
    /// standing queue"). 2 % drains a 100 ms queue in 5 s.
    /// </summary>
    public static long PacedSendRate(long sendRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sendRate);
        return sendRate - sendRate / 50;
    }

    /// <summary>
    /// The rate a receiver limited to <paramref name="recvRate"/> bytes per second (0 = unlimited) reads at: 2 % over
    /// it, the mirror of <see cref="PacedSendRate"/>. A sender that does not pace itself under our limit (a Go node
    /// at the same default, whose sender runs at exactly its rate) would otherwise keep whatever queued in our socket
    /// early in a transfer queued ahead of every later message for as long as the transfer lasts.
    /// </summary>
    public static long ReceiveAllowance(long recvRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(recvRate);
        return recvRate + recvRate / 50;
    }

    /// <summary>What <paramref name="rate"/> earns over <paramref name="period"/>, at least one byte (0 without a limit).</summary>
    public static long Budget(long rate, TimeSpan period) =>
        rate == 0 ? 0 : Math.Max(1, (long)(rate * period.TotalSeconds));

    /// <summary>Takes <paramref name="bytes"/> tokens (none without a limit); the bucket may go below zero.</summary>
    public void Spend(long bytes)
    {
        if (Limited)
            Tokens -= bytes;
    }

    /// <summary>
    /// Adds what the rate earned over <paramref name="elapsed"/>, the time since the last refill (so a late tick loses
    /// nothing while the bucket is below its cap); a negative span (a clock stepping back) adds nothing.
    /// </summary>
    public void Refill(TimeSpan elapsed)
    {
        if (!Limited) return;
        _carry += Rate * Math.Max(0, elapsed.TotalSeconds);
        var whole = (long)_carry;
        _carry -= whole;
        if (Tokens + whole < Burst)
        {
            Tokens += whole;
            return;
        }
        _carry = 0;
        Tokens = Burst;
    }
}
