using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Stage;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// A stage logic with keyed timers, as Akka's <see cref="TimerGraphStageLogic"/>, for the stages of a connection, which
/// live as long as it does. Akka's makes, for every logic, a log source with its shape's text, a dictionary of timers
/// and a counter, about 0.3 KiB that an idle connection holds per stage. Here the log source is made at the first
/// <see cref="GraphStageLogic.Log"/> (the connection's stages log through their owner, so normally never), and the one
/// or two timers a stage runs at a time sit in a small array.
/// </summary>
internal abstract class TimerLogic : GraphStageLogic
{
    private readonly Shape _shape;
    private object? _logSource;
    private Timer[]? _timers;
    private int _timerCount;
    private int _lastTimerId;
    private Action<Fired>? _onFired;

    protected TimerLogic(Shape shape) : base(shape.Inlets.Count(), shape.Outlets.Count()) => _shape = shape;

    /// <summary>Whether the log source exists yet (specs: it is made on first use).</summary>
    internal bool HasLogSource => _logSource is not null;

    /// <summary>The number of timers scheduled and not yet fired (single ones) or cancelled (specs).</summary>
    internal int ActiveTimers => _timerCount;

    protected override object LogSource => _logSource ??= Akka.Event.LogSource.Create(_shape.ToString());

    /// <summary>Called on the stage's thread when the timer of <paramref name="timerKey"/> fires (and was not cancelled or replaced meanwhile).</summary>
    protected abstract void OnTimer(object timerKey);

    /// <summary>Fires once after <paramref name="delay"/>, replacing any timer of the same key.</summary>
    protected void ScheduleOnce(object timerKey, TimeSpan delay) => Schedule(timerKey, repeating: false, delay, delay);

    /// <summary>Fires every <paramref name="interval"/>, replacing any timer of the same key.</summary>
    protected void ScheduleRepeatedly(object timerKey, TimeSpan interval) => Schedule(timerKey, repeating: true, interval, interval);

    /// <summary>Fires after <paramref name="initialDelay"/>, then every <paramref name="interval"/>, replacing any timer of the same key.</summary>
    protected void ScheduleRepeatedly(object timerKey, TimeSpan initialDelay, TimeSpan interval) =>
        Schedule(timerKey, repeating: true, initialDelay, interval);

    /// <summary>Cancels the timer of <paramref name="timerKey"/>: <see cref="OnTimer"/> is not called for it any more.</summary>
    protected void CancelTimer(object timerKey)
    {
        var i = IndexOf(timerKey);
        if (i < 0) return;
        _timers![i].Task.Cancel();
        RemoveAt(i);
        DropCallbackIfIdle();
    }

    /// <summary>Whether a timer of <paramref name="timerKey"/> is scheduled and has not fired (if single) or been cancelled.</summary>
    protected bool IsTimerActive(object timerKey) => IndexOf(timerKey) >= 0;

    protected override void AfterPostStop()
    {
        base.AfterPostStop();
        for (var i = 0; i < _timerCount; i++)
            _timers![i].Task.Cancel();
        _timerCount = 0;
        _timers = null;
    }

    private void Schedule(object timerKey, bool repeating, TimeSpan initialDelay, TimeSpan interval)
    {
        CancelTimer(timerKey);
        var id = ++_lastTimerId;
        var fired = new Fired(timerKey, id);
        var task = repeating
            ? Materializer.ScheduleRepeatedly(initialDelay, interval, () => OnFiredCallback(fired))
            : Materializer.ScheduleOnce(initialDelay, () => OnFiredCallback(fired));
        if (_timers is null)
            _timers = new Timer[2];
        else if (_timerCount == _timers.Length)
            Array.Resize(ref _timers, _timerCount * 2);
        _timers[_timerCount++] = new Timer(timerKey, id, repeating, task);
    }

    /// <summary>
    /// One async callback for all of this logic's timers, made when one fires, on the scheduler's thread (as Akka's
    /// timer logic does): a stage whose timers never fire (a deadline met, a ping not yet due) never makes it. It is
    /// dropped again once the logic has no timer left (<see cref="DropCallbackIfIdle"/>), so that a connection whose
    /// buckets have refilled after a burst of traffic keeps none (~0.3 KiB each). Two timers firing
    /// at once may each make one; one of them is kept, and either delivers.
    /// </summary>
    private void OnFiredCallback(Fired fired)
    {
        var callback = Volatile.Read(ref _onFired);
        if (callback is null)
        {
            var made = GetAsyncCallback<Fired>(OnFired);
            callback = Interlocked.CompareExchange(ref _onFired, made, null) ?? made;
        }
        callback(fired);
    }

    /// <summary>Whether the logic holds a timer callback (specs: made when a timer fires, dropped when none is left).</summary>
    internal bool HasTimerCallback => Volatile.Read(ref _onFired) is not null;

    private void OnFired(Fired fired)
    {
        var i = IndexOf(fired.Key);
        if (i >= 0 && _timers![i].Id == fired.Id) // else cancelled or replaced since
        {
            if (!_timers[i].Repeating) RemoveAt(i);
            OnTimer(fired.Key);
        }
        // Every callback made is called at once, so a late fire that made one after the last timer went is dropped here.
        DropCallbackIfIdle();
    }

    /// <summary>
    /// On the stage's thread: with no timer left, the callback goes (the next fire makes another). A fire already on
    /// its way with the old one still arrives: the callback stays valid for as long as the logic runs.
    /// </summary>
    private void DropCallbackIfIdle()
    {
        if (_timerCount == 0)
            Volatile.Write(ref _onFired, null);
    }

    private int IndexOf(object timerKey)
    {
        for (var i = 0; i < _timerCount; i++)
            if (Equals(_timers![i].Key, timerKey))
                return i;
        return -1;
    }

    private void RemoveAt(int i)
    {
        _timers![i] = _timers[--_timerCount];
        _timers[_timerCount] = default;
    }

    private readonly record struct Timer(object Key, int Id, bool Repeating, ICancelable Task);

    private sealed record Fired(object Key, int Id);
}
