namespace TendermintActors.Node.Bench;

/// <summary>
/// Tells a warm-up when the runtime's tiered JIT has settled, from samples of the process's total JIT compilation
/// time (<see cref="System.Runtime.JitInfo.GetCompilationTime"/>): settled once at least <see cref="Minimum"/> has
/// passed and the JIT compiled for less than 1 % of the time (<see cref="QuietBudget"/> per <see cref="Window"/>) since
/// the newest sample at least a window old, or at the latest after <see cref="Maximum"/>. Measured on a 64 KiB
/// <c>bench send</c>: ~1 s of compiling in the first 3 s, then another 0.7 s between 3.0 and 4.3 s (the hot methods'
/// optimised versions), then a few ms now and then; a run timed from 3 s ran 5–8 % slower than the same run from 10 s.
/// </summary>
internal sealed class JitSettling(TimeSpan minimum, TimeSpan maximum)
{
    /// <summary>The shortest stretch over which the JIT must have been quiet.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Compiling time allowed per <see cref="Window"/> (1 %): a method or two, not a tier-up wave. A longer stretch
    /// (samples far apart, as on a rate-limited link) is allowed as much in proportion.
    /// </summary>
    public static readonly TimeSpan QuietBudget = TimeSpan.FromMilliseconds(10);

    private readonly Queue<(TimeSpan At, TimeSpan Compiling)> _samples = new();

    public TimeSpan Minimum { get; } = minimum;

    /// <summary>The latest the warm-up ends, never before <see cref="Minimum"/>.</summary>
    public TimeSpan Maximum { get; } = maximum > minimum ? maximum : minimum;

    /// <summary>Whether the last call said settled because <see cref="Maximum"/> had passed while the JIT was still busy.</summary>
    public bool GaveUp { get; private set; }

    /// <summary>
    /// Whether the samples so far span at least a <see cref="Window"/>; when not (a single batch took until
    /// <see cref="Maximum"/>), an end at the maximum says nothing about the JIT.
    /// </summary>
    public bool Judged { get; private set; }

    /// <summary>How the warm-up ended, for its report (after <see cref="IsSettled"/> said true).</summary>
    public string Outcome => (GaveUp, Judged) switch
    {
        (false, _) => "the JIT had settled",
        (true, true) => "the JIT was still compiling",
        (true, false) => "too few samples to judge the JIT",
    };

    /// <summary>
    /// Takes a sample (time since the warm-up began, the process's JIT compilation time so far) and says whether the
    /// warm-up may end. Samples come at whatever pace the warm-up's batches allow.
    /// </summary>
    public bool IsSettled(TimeSpan elapsed, TimeSpan compiling)
    {
        _samples.Enqueue((elapsed, compiling));
        // Keep exactly one sample at least a window old: the start of the stretch to judge.
        while (_samples.Count > 1 && elapsed - _samples.ElementAt(1).At >= Window)
            _samples.Dequeue();
        var (from, compiledBefore) = _samples.Peek();
        var stretch = elapsed - from;
        Judged = stretch >= Window;
        var quiet = Judged && compiling - compiledBefore < QuietBudget * (stretch / Window);
        GaveUp = !quiet && elapsed >= Maximum;
        return elapsed >= Minimum && quiet || GaveUp;
    }
}
