namespace TendermintActors.Protocol.Switch;

/// <summary>What the owner of a <see cref="BufferBudget{TKey}"/> must do after a change.</summary>
/// <param name="Pause">Connections whose reads must stop (TCP then pushes back on that peer alone).</param>
/// <param name="Resume">Connections that may read again.</param>
/// <param name="Drop">Connections that stayed paused past the deadline and must be disconnected.</param>
public sealed record BufferBudgetDecision<TKey>(
    IReadOnlyList<TKey> Pause, IReadOnlyList<TKey> Resume, IReadOnlyList<TKey> Drop)
{
    public static readonly BufferBudgetDecision<TKey> None = new([], [], []);

    public bool IsNone => Pause.Count == 0 && Resume.Count == 0 && Drop.Count == 0;
}

/// <summary>
/// The node-wide memory budget, without I/O: the bytes every connection holds in partial (reassembling) messages and
/// pending sends, and every handshake in progress, summed against one bound (<c>max-buffered-bytes</c>). Per-channel
/// receive capacities bound each peer alone, so many peers each sending most of a large message and then stalling
/// could otherwise hold their capacity many times over.
/// </summary>
/// <remarks>
/// When the total exceeds <see cref="MaxBytes"/>, the connections holding the most bytes are paused, largest first,
/// until the bytes held by the connections still reading are at most <see cref="LowWaterBytes"/>: dropping the paused
/// ones would bring the node under the low-water mark, and the others keep flowing meanwhile. A paused connection gets
/// a deadline <see cref="PauseTimeout"/> away; if it is still paused then, it is dropped (<see cref="Expire"/>). Once the
/// total is at most <see cref="LowWaterBytes"/> again (sends drained, peers gone), every paused connection resumes.
/// Reserved usage (handshakes in progress, see <see cref="Reserve"/>) counts towards the total but is never paused:
/// the handshake timeout already bounds it. Time is the owner's monotonic clock, passed in.
/// </remarks>
public sealed class BufferBudget<TKey> where TKey : notnull
{
    private readonly Dictionary<TKey, long> _usage = new();
    private readonly Dictionary<TKey, long> _reserved = new();
    private readonly Dictionary<TKey, TimeSpan> _pausedUntil = new();

    public BufferBudget(long maxBytes, TimeSpan pauseTimeout)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        if (pauseTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(pauseTimeout), pauseTimeout, "must be positive");
        MaxBytes = maxBytes;
        LowWaterBytes = maxBytes - maxBytes / 4;
        PauseTimeout = pauseTimeout;
    }

    /// <summary>The bound on all buffered bytes together.</summary>
    public long MaxBytes { get; }

    /// <summary>Three quarters of <see cref="MaxBytes"/>: the level pausing aims for and resuming waits for.</summary>
    public long LowWaterBytes { get; }

    /// <summary>How long a connection may stay paused before it is dropped.</summary>
    public TimeSpan PauseTimeout { get; }

    /// <summary>Bytes held by connections and reservations together.</summary>
    public long TotalBytes { get; private set; }

    public int PausedCount => _pausedUntil.Count;

    public bool IsPaused(TKey key) => _pausedUntil.ContainsKey(key);

    public long UsageOf(TKey key) => _usage.GetValueOrDefault(key) + _reserved.GetValueOrDefault(key);

    /// <summary>The earliest deadline of a paused connection, for the owner's timer.</summary>
    public TimeSpan? NextDeadline => _pausedUntil.Count == 0 ? null : _pausedUntil.Values.Min();

    /// <summary>Sets the bytes a connection holds now (partial messages plus pending sends).</summary>
    public BufferBudgetDecision<TKey> Report(TKey key, long bytes, TimeSpan now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        TotalBytes += bytes - _usage.GetValueOrDefault(key);
        if (bytes == 0) _usage.Remove(key);
        else _usage[key] = bytes;
        return Rebalance(now, []);
    }

    /// <summary>Sets bytes counted for <paramref name="key"/> that are never paused (a handshake in progress).</summary>
    public BufferBudgetDecision<TKey> Reserve(TKey key, long bytes, TimeSpan now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        TotalBytes += bytes - _reserved.GetValueOrDefault(key);
        if (bytes == 0) _reserved.Remove(key);
        else _reserved[key] = bytes;
        return Rebalance(now, []);
    }

    /// <summary>The connection is gone: its bytes are freed, and others may resume.</summary>
    public BufferBudgetDecision<TKey> Remove(TKey key, TimeSpan now)
    {
        Forget(key);
        return Rebalance(now, []);
    }

    /// <summary>Drops the paused connections whose deadline has come; their bytes are counted as freed.</summary>
    public BufferBudgetDecision<TKey> Expire(TimeSpan now)
    {
        var drop = _pausedUntil.Where(p => p.Value <= now).Select(p => p.Key).ToList();
        foreach (var key in drop) Forget(key);
        return Rebalance(now, drop);
    }

    private void Forget(TKey key)
    {
        if (_usage.Remove(key, out var used)) TotalBytes -= used;
        if (_reserved.Remove(key, out var reserved)) TotalBytes -= reserved;
        _pausedUntil.Remove(key);
    }

    private BufferBudgetDecision<TKey> Rebalance(TimeSpan now, IReadOnlyList<TKey> drop)
    {
        if (TotalBytes <= LowWaterBytes && _pausedUntil.Count > 0)
        {
            var resume = _pausedUntil.Keys.ToList();
            _pausedUntil.Clear();
            return new BufferBudgetDecision<TKey>([], resume, drop);
        }
        if (TotalBytes <= MaxBytes)
            return drop.Count == 0 ? BufferBudgetDecision<TKey>.None : new([], [], drop);

        var flowing = TotalBytes - _usage.Where(u => _pausedUntil.ContainsKey(u.Key)).Sum(u => u.Value);
        var pause = new List<TKey>();
        foreach (var (key, used) in _usage.Where(u => !_pausedUntil.ContainsKey(u.Key)).OrderByDescending(u => u.Value))
        {
            if (flowing <= LowWaterBytes) break;
            _pausedUntil[key] = now + PauseTimeout;
            pause.Add(key);
            flowing -= used;
        }
        return pause.Count == 0 && drop.Count == 0 ? BufferBudgetDecision<TKey>.None : new(pause, [], drop);
    }
}
