using System.Net;
using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using TendermintActors.Transport;

namespace TendermintActors.Node.Runtime;

/// <summary>A switch that is listening: its actor, the node's ID and where it accepts connections.</summary>
internal sealed record RunningSwitch(IActorRef Switch, NodeId Id, EndPoint ListenAddress);

/// <summary>Starting and stopping one node's switch inside a command's <see cref="ActorSystem"/>.</summary>
internal static class NodeSwitch
{
    /// <summary>
    /// Starts the switch under a parent that stops it on failure (the user guardian would restart it, and a switch
    /// that cannot bind its port would then retry forever), and completes once it listens. Throws
    /// <see cref="IOException"/> when it stops before that, e.g. because the port is taken.
    /// </summary>
    public static async Task<RunningSwitch> Start(ActorSystem system, string name, NodeKey key, SwitchSettings settings,
        IReadOnlyList<ReactorRegistration> reactors, TimeSpan timeout, CancellationToken cancellation,
        Metrics.P2PMetrics? metrics = null)
    {
        var parent = system.ActorOf(Akka.Actor.Props.Create(() => new StoppingParent()), $"{name}-node");
        var sw = await parent.Ask<IActorRef>(Switch.Props(key, settings, reactors, new TcpTransport(system), metrics), timeout, cancellation);
        var stopped = sw.WatchAsync(cancellation);
        var listening = sw.Ask<Switch.Listening>(replyTo => new Switch.Subscribe(replyTo), timeout, cancellation);
        var first = await Task.WhenAny(listening, stopped);
        if (first == stopped || listening.Result.ListenAddress is null)
            throw new IOException($"the switch could not listen on {settings.ListenHost}:{settings.ListenPort}");
        return new RunningSwitch(sw, key.Id, listening.Result.ListenAddress);
    }

    /// <summary>
    /// Stops every peer gracefully (their queued messages are flushed, as Go's OnStop does), waits for them up to
    /// <paramref name="timeout"/>, then stops the switch.
    /// </summary>
    public static async Task StopPolitely(IActorRef sw, TimeSpan timeout)
    {
        try
        {
            var peers = await sw.Ask<Switch.Peers>(Switch.GetPeers.Instance, timeout);
            using var deadline = new CancellationTokenSource(timeout);
            var gone = peers.Connected.Select(p => p.Actor.WatchAsync(deadline.Token)).ToList();
            foreach (var peer in peers.Connected)
                sw.Tell(new Switch.StopPeer(peer.Id, PeerStopReason.Stopped("node shutting down"), Graceful: true));
            await Task.WhenAll(gone);
        }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
        {
            // Shutdown goes on: stopping the switch below closes whatever is left.
        }
        await sw.GracefulStop(timeout).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Creates children from the <see cref="Props"/> it is sent, replies with them, and stops a failing one.</summary>
    private sealed class StoppingParent : ReceiveActor
    {
        public StoppingParent() => Receive<Props>(props => Sender.Tell(Context.ActorOf(props, "switch")));

        protected override SupervisorStrategy SupervisorStrategy() => Akka.Actor.SupervisorStrategy.StoppingStrategy;
    }
}
