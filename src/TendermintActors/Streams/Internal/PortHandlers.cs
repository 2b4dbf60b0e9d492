using Akka.Streams.Stage;

namespace TendermintActors.Streams.Internal;

/// <summary>
/// An inlet's handler as one small object. <c>SetHandler(inlet, onPush: OnPush, ...)</c> makes a handler and a delegate
/// bound to the logic for each callback, ~230 bytes per port of every materialised stage, kept for the connection's
/// life (~18 ports a connection, docs/performance.md "Where it stands"); this one holds the logic and static callbacks
/// (<c>static l =&gt; l.OnPush()</c>, which the compiler makes once). A callback left null does what Akka's does.
/// </summary>
internal sealed class InHandlerOf<TLogic>(
    TLogic logic, Action<TLogic> onPush, Action<TLogic>? onUpstreamFinish = null, Action<TLogic, Exception>? onUpstreamFailure = null)
    : InHandler
{
    public override void OnPush() => onPush(logic);

    public override void OnUpstreamFinish()
    {
        if (onUpstreamFinish is null) base.OnUpstreamFinish();
        else onUpstreamFinish(logic);
    }

    public override void OnUpstreamFailure(Exception e)
    {
        if (onUpstreamFailure is null) base.OnUpstreamFailure(e);
        else onUpstreamFailure(logic, e);
    }
}

/// <summary>An outlet's handler as one small object (see <see cref="InHandlerOf{TLogic}"/>).</summary>
internal sealed class OutHandlerOf<TLogic>(TLogic logic, Action<TLogic> onPull, Action<TLogic, Exception>? onDownstreamFinish = null)
    : OutHandler
{
    public override void OnPull() => onPull(logic);

    public override void OnDownstreamFinish(Exception cause)
    {
        if (onDownstreamFinish is null) base.OnDownstreamFinish(cause);
        else onDownstreamFinish(logic, cause);
    }
}
