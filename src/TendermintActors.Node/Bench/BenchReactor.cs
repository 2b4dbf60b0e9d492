using System.Diagnostics;
using Akka.Actor;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Switching;
using Switch = TendermintActors.Switching.Switch;

namespace TendermintActors.Node.Bench;

/// <summary>
/// The bench node's one reactor, on the measured channel. It finds the peer (dialling the target again after each
/// failed attempt), counts what arrives (bench sink) and times echoes one at a time (bench echo). All measurement
/// state lives here; the command only asks.
/// </summary>
internal sealed class BenchReactor : ReactorActor, IWithTimers
{
    /// <summary>Answered with the first peer (a <see cref="PeerHandle"/>), or a failure naming the last dial error once <paramref name="Timeout"/> passes.</summary>
    public sealed record AwaitPeer(IActorRef Switch, NetAddress? Target, TimeSpan Timeout, TimeSpan RedialInterval);

    /// <summary>
    /// Answered with <see cref="Throughput"/>, timed from the first message counted to the last, once
    /// <paramref name="Messages"/> have been counted, or (when null) once the sender's <see cref="BenchMarker.Kind.End"/>
    /// marker arrives. A <see cref="BenchMarker.Kind.Timed"/> marker starts the count afresh, and what comes between a
    /// <see cref="BenchMarker.Kind.Warmup"/> marker and it is not counted: the figure is the sender's timed run alone.
    /// </summary>
    public sealed record AwaitMessages(long? Messages);

    /// <summary>Answered with <see cref="Removal"/>: why the peer's last connection ended (null while it has not).</summary>
    public sealed record GetRemoval(Protocol.Identity.NodeId Peer);

    /// <summary>Answered with <see cref="PeerGone"/> once the current peer has gone (at once if none), or after <paramref name="Timeout"/> with <c>PeerGone(false)</c>.</summary>
    public sealed record AwaitPeerGone(TimeSpan Timeout);

    public sealed record PeerGone(bool Gone);

    private sealed record PeerGoneTimedOut
    {
        public static readonly PeerGoneTimedOut Instance = new();
    }

    public sealed record Removal(PeerStopReason? Reason);

    public sealed record GetCounts
    {
        public static readonly GetCounts Instance = new();
    }

    /// <param name="Messages">Messages received so far.</param>
    /// <param name="Bytes">Their bytes.</param>
    /// <param name="PeerSeen">Whether any peer has connected yet (a sink's idle clock starts then).</param>
    /// <param name="WarmupMessages">Warm-up messages received and not counted (they show that the sender is alive).</param>
    public sealed record Counts(long Messages, long Bytes, bool PeerSeen, long WarmupMessages);

    /// <summary>Sends <paramref name="Message"/> to the peer and answers with <see cref="RoundTrip"/> when a message comes back.</summary>
    public sealed record Probe(ReadOnlyMemory<byte> Message);

    public sealed record RoundTrip(TimeSpan Elapsed);

    private sealed record Redial
    {
        public static readonly Redial Instance = new();
    }

    private sealed record PeerTimedOut
    {
        public static readonly PeerTimedOut Instance = new();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly byte _channel;
    private PeerHandle? _peer;
    private bool _peerSeen;
    private readonly Dictionary<Protocol.Identity.NodeId, PeerStopReason> _removals = new();
    private AwaitPeer? _awaitPeer;
    private IActorRef? _peerWaiter;
    private string? _lastRejection;

    private long _messages;
    private long _bytes;
    private long _firstAt;
    private long _lastAt;
    private bool _warmingUp;
    private long _warmupMessages;
    private bool _ended;
    private (long? Messages, IActorRef ReplyTo)? _awaitMessages;

    private (long StartedAt, IActorRef ReplyTo)? _probe;
    private IActorRef? _peerGoneWaiter;

    public BenchReactor(byte channel)
    {
        _channel = channel;

        Receive<AwaitPeer>(OnAwaitPeer);
        Receive<Redial>(_ => Dial());
        Receive<PeerTimedOut>(_ =>
        {
            _peerWaiter?.Tell(new Status.Failure(new TimeoutException(_awaitPeer?.Target is { } target
                ? $"could not connect to {target} within {_awaitPeer.Timeout.TotalSeconds:0.###} s" + (_lastRejection is null ? "" : $" (last attempt: {_lastRejection})")
                : $"no peer connected within {_awaitPeer?.Timeout.TotalSeconds:0.###} s")));
            _peerWaiter = null;
        });
        Receive<Switch.ConnectionRejected>(rejected =>
        {
            _lastRejection = rejected.Reason.ToString();
            if (_peerWaiter is not null && _awaitPeer?.Target is not null)
                Timers.StartSingleTimer(Redial.Instance, Redial.Instance, _awaitPeer.RedialInterval);
        });
        Receive<Reactor.PeerAdded>(added =>
        {
            _peer ??= added.Peer;
            _peerSeen = true;
            if (_peerWaiter is null) return;
            Timers.Cancel(PeerTimedOut.Instance);
            _peerWaiter.Tell(added.Peer);
            _peerWaiter = null;
        });
        Receive<Reactor.PeerRemoved>(removed =>
        {
            _removals[removed.Peer.Id] = removed.Reason;
            if (!Equals(removed.Peer, _peer)) return;
            _peer = null;
            if (_peerGoneWaiter is { } waiter)
            {
                Timers.Cancel(PeerGoneTimedOut.Instance);
                waiter.Tell(new PeerGone(true));
                _peerGoneWaiter = null;
            }
            if (_probe is { } probe)
            {
                probe.ReplyTo.Tell(new Status.Failure(new IOException($"the peer disconnected: {removed.Reason}")));
                _probe = null;
            }
        });
        Receive<Reactor.Received>(OnReceived);
        Receive<AwaitMessages>(wait =>
        {
            _awaitMessages = (wait.Messages, Sender);
            CheckMessages();
        });
        Receive<GetRemoval>(get => Sender.Tell(new Removal(_removals.GetValueOrDefault(get.Peer))));
        Receive<AwaitPeerGone>(wait =>
        {
            if (_peer is null)
            {
                Sender.Tell(new PeerGone(true));
                return;
            }
            _peerGoneWaiter?.Tell(new PeerGone(false)); // superseded: one waiter at a time
            _peerGoneWaiter = Sender;
            Timers.StartSingleTimer(PeerGoneTimedOut.Instance, PeerGoneTimedOut.Instance, wait.Timeout);
        });
        Receive<PeerGoneTimedOut>(_ =>
        {
            _peerGoneWaiter?.Tell(new PeerGone(false));
            _peerGoneWaiter = null;
        });
        Receive<GetCounts>(_ => Sender.Tell(new Counts(_messages, _bytes, _peerSeen, _warmupMessages)));
        Receive<Probe>(OnProbe);
        Receive<Peer.SendResult>(result =>
        {
            if (result.Accepted || _probe is not { } probe) return;
            probe.ReplyTo.Tell(new Status.Failure(new IOException($"the peer refused a message on channel 0x{_channel:x2}")));
            _probe = null;
        });
        // Listening, PeerConnected, PeerDisconnected: the reactor events above say the same per peer.
        Receive<object>(_ => { });
    }

    public static Props Props(byte channel) => Akka.Actor.Props.Create(() => new BenchReactor(channel));

    private void OnAwaitPeer(AwaitPeer wait)
    {
        if (_peer is not null)
        {
            Sender.Tell(_peer);
            return;
        }
        _awaitPeer = wait;
        _peerWaiter = Sender;
        Timers.StartSingleTimer(PeerTimedOut.Instance, PeerTimedOut.Instance, wait.Timeout);
        Dial();
    }

    private void Dial()
    {
        if (_peer is null && _peerWaiter is not null && _awaitPeer?.Target is { } target)
            _awaitPeer.Switch.Tell(new Switch.DialPeers([target]));
    }

    private void OnReceived(Reactor.Received received)
    {
        var now = Stopwatch.GetTimestamp();
        if (_probe is { } probe)
        {
            probe.ReplyTo.Tell(new RoundTrip(Stopwatch.GetElapsedTime(probe.StartedAt, now)));
            _probe = null;
            return;
        }
        switch (BenchMarker.Of(received.Message.Span))
        {
            case BenchMarker.Kind.Warmup:
                _warmingUp = true;
                return;
            case BenchMarker.Kind.Timed:
                _warmingUp = false;
                _ended = false;
                _messages = _bytes = 0;
                return;
            case BenchMarker.Kind.End:
                _ended = true;
                CheckMessages();
                return;
        }
        if (_warmingUp)
        {
            _warmupMessages++;
            return;
        }
        if (_messages == 0) _firstAt = now;
        _lastAt = now;
        _messages++;
        _bytes += received.Message.Length;
        CheckMessages();
    }

    private void CheckMessages()
    {
        if (_awaitMessages is not { } wait || (wait.Messages is { } count ? _messages < count : !_ended)) return;
        var seconds = _messages == 0 ? 0 : Stopwatch.GetElapsedTime(_firstAt, _lastAt).TotalSeconds;
        wait.ReplyTo.Tell(new Throughput(_messages, _bytes, seconds));
        _awaitMessages = null;
    }

    private void OnProbe(Probe probe)
    {
        if (_peer is null)
        {
            Sender.Tell(new Status.Failure(new IOException("no peer to probe")));
            return;
        }
        _probe = (Stopwatch.GetTimestamp(), Sender);
        _peer.Send(_channel, probe.Message, Self);
    }
}

/// <summary>
/// Keeps a channel's send queue full: up to <c>window</c> sends in flight. Answers the <see cref="Start"/> sender with
/// <see cref="AllAccepted"/>, or a failure at the first refusal or if the peer stops.
/// </summary>
/// <remarks>
/// A reply per message would cost the sending node as much as the send itself, so only one message
/// in every tenth of the window, and the last, asks for one. A channel's sends are queued in the order they
/// arrive and wait the same timeout, so an accepted message confirms the ones before it; the only way one of those
/// could be lost unnoticed is a send waiting out the whole send timeout (10 s), which would show as a stall anyway.
/// </remarks>
internal sealed class BulkSender : ReceiveActor, IWithTimers
{
    public ITimerScheduler Timers { get; set; } = null!;

    public sealed record Start
    {
        public static readonly Start Instance = new();
    }

    public sealed record AllAccepted(long Messages);

    public sealed record GetProgress
    {
        public static readonly GetProgress Instance = new();
    }

    public sealed record Progress(long Accepted);

    /// <summary>Sent to itself once the run's duration has passed: the message after the last one sent is the last.</summary>
    private sealed record Finish
    {
        public static readonly Finish Instance = new();
    }

    /// <summary>
    /// Sends <paramref name="count"/> messages; with <paramref name="duration"/>, stops that long after
    /// <see cref="Start"/> (at most <paramref name="count"/>), and <see cref="AllAccepted"/> says how many went.
    /// </summary>
    public BulkSender(PeerHandle peer, byte channel, ReadOnlyMemory<byte> message, long count, int window, TimeSpan? duration = null)
    {
        var stride = Math.Max(1, window / 10);
        long sent = 0, accepted = 0;
        IActorRef? replyTo = null;
        Context.Watch(peer.Actor);

        void TopUp()
        {
            for (; sent < count && sent - accepted < window; sent++)
            {
                var number = sent + 1;
                if (number % stride == 0 || number == count)
                    peer.Send(channel, message, Self, number);
                else
                    peer.Send(channel, message);
            }
        }

        Receive<Start>(_ =>
        {
            replyTo = Sender;
            if (duration is { } d)
                Timers.StartSingleTimer(Finish.Instance, Finish.Instance, d);
            TopUp();
        });
        Receive<Finish>(_ =>
        {
            // One more, which asks for a reply, so that the end is confirmed like any other.
            if (sent < count)
                count = sent + 1;
            TopUp();
        });
        Receive<Peer.SendResult>(result =>
        {
            if (!result.Accepted)
            {
                replyTo?.Tell(new Status.Failure(new IOException(
                    $"the peer refused message {result.CorrelationId} on channel 0x{channel:x2} (queue full for the send timeout, or the channel is unknown to it)")));
                Context.Stop(Self);
                return;
            }
            accepted = (long)result.CorrelationId!;
            if (accepted == count)
                replyTo?.Tell(new AllAccepted(accepted));
            else
                TopUp();
        });
        Receive<GetProgress>(_ => Sender.Tell(new Progress(accepted)));
        Receive<Terminated>(_ =>
        {
            if (accepted < count)
                replyTo?.Tell(new Status.Failure(new IOException($"the peer disconnected after {accepted} of {count} messages")));
            Context.Stop(Self);
        });
    }

    public static Props Props(PeerHandle peer, byte channel, ReadOnlyMemory<byte> message, long count, int window, TimeSpan? duration = null) =>
        Akka.Actor.Props.Create(() => new BulkSender(peer, channel, message, count, window, duration));
}
