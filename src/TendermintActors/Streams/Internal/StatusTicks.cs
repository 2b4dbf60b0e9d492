namespace TendermintActors.Streams.Internal;

/// <summary>
/// A stage's status ticks, applied when they are needed instead of by a timer: every status-decay interval from the
/// first byte counted, a tick samples the rate over the interval just ended (and the send stage decays its scheduler's
/// recently-sent counts); the ticks stop at the first one that finds nothing left to decay, and the next byte counted
/// starts them again. The stage calls <see cref="TickDue"/> until it answers false before it counts bytes, chooses a
/// packet by recently-sent counts, or reports its status, so every such reading is the one a timer firing at each
/// tick would have left, and an idle connection, or a busy one, runs no timer for it (docs/architecture.md,
/// "Status without timers"). A value kept in the stage's logic, changed in place.
/// </summary>
internal struct StatusTicks(TimeSpan interval)
{
    private TimeSpan _next; // when the next tick is due, while running
    private long _bytesAtSample;

    /// <summary>Bytes counted in all.</summary>
    public long Bytes { get; private set; }

    /// <summary>Bytes per second over the interval that the last tick ended (0 before the first).</summary>
    public long Rate { get; private set; }

    /// <summary>Whether ticks are due every interval (from the first byte counted until <see cref="Stop"/>).</summary>
    public bool Running { get; private set; }

    /// <summary>
    /// Takes the next tick if it is due at <paramref name="now"/>: the rate is sampled over its interval and the tick
    /// after it set. The caller applies its own decay for each tick taken, and calls again until none is due.
    /// </summary>
    public bool TickDue(TimeSpan now)
    {
        if (!Running) return false;
        // The clock stepped back (a scheduler whose clock can, StageClock): ticks count from now again rather than
        // wait for the clock to come back.
        if (now < _next - interval)
            _next = now + interval;
        if (now < _next) return false;
        Rate = (long)((Bytes - _bytesAtSample) / interval.TotalSeconds);
        _bytesAtSample = Bytes;
        _next += interval;
        return true;
    }

    /// <summary>A tick found nothing left to decay (the rate 0 included): no tick is due until the next byte.</summary>
    public void Stop() => Running = false;

    /// <summary>
    /// Counts <paramref name="bytes"/> moved at <paramref name="now"/>, the ticks due by then already taken; the first
    /// byte after a stop starts the ticks, the first due an interval later.
    /// </summary>
    public void Count(TimeSpan now, long bytes)
    {
        if (!Running)
        {
            Running = true;
            _next = now + interval;
        }
        Bytes += bytes;
    }
}
