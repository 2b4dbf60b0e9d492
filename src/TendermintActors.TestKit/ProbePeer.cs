using Akka.Actor;
using Akka.TestKit;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;

namespace TendermintActors.TestKit;

/// <summary>
/// A remote peer of a node under test, driven by the spec: it sends what the spec says, and hands the spec what the
/// node sends it. Created by <see cref="P2PTestKit.ConnectProbePeer"/>.
/// </summary>
public sealed class ProbePeer
{
    private readonly P2PTestKit _kit;
    private readonly TestProbe _reactorEvents;
    private readonly TestProbe _nodeEvents;
    private readonly TestProbe _sendResults;

    private readonly IActorRef _reactor;

    internal ProbePeer(P2PTestKit kit, NodeKey key, IActorRef @switch, IActorRef reactor, PeerHandle node, TestNode nodeUnderTest,
        IReadOnlyList<ChannelDescriptor> channels, TestProbe reactorEvents, TestProbe nodeEvents, TestProbe sendResults)
    {
        _kit = kit;
        _reactor = reactor;
        Key = key;
        Switch = @switch;
        Node = node;
        NodeUnderTest = nodeUnderTest;
        Channels = channels;
        _reactorEvents = reactorEvents;
        _nodeEvents = nodeEvents;
        _sendResults = sendResults;
    }

    public NodeKey Key { get; }

    public NodeId Id => Key.Id;

    /// <summary>The probe's own switch.</summary>
    public IActorRef Switch { get; }

    /// <summary>The node under test as the probe sees it.</summary>
    public PeerHandle Node { get; }

    public TestNode NodeUnderTest { get; }

    public IReadOnlyList<ChannelDescriptor> Channels { get; }

    /// <summary>Sends <paramref name="message"/> to the node; fails if the probe's connection refuses it (channel
    /// unknown on either side, queue full for the send timeout, or the connection is gone).</summary>
    public async Task Send(byte channel, byte[] message)
    {
        Node.Send(channel, message, _sendResults.Ref);
        var result = await _sendResults.ExpectMsgAsync<Peer.SendResult>(_kit.Dilated(P2PTestKit.DefaultTimeout));
        if (!result.Accepted)
            throw new InvalidOperationException($"probe {Id} could not send on channel 0x{channel:x2}");
    }

    /// <summary>
    /// The next message the node sends on <paramref name="channel"/>. Messages on other channels are skipped; the
    /// connection ending first fails the expectation.
    /// </summary>
    public async Task<byte[]> ExpectMessage(byte channel, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + _kit.Dilated(timeout ?? P2PTestKit.DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"probe {Id} got no message on channel 0x{channel:x2} in time");
            var e = await _reactorEvents.ExpectMsgAsync<Reactor.IEvent>(left);
            switch (e)
            {
                case Reactor.Received r when r.Channel == channel:
                    return r.Message.ToArray();
                case Reactor.PeerRemoved removed:
                    throw new InvalidOperationException(
                        $"probe {Id} expected a message on channel 0x{channel:x2} but the connection ended: {removed.Reason}");
            }
        }
    }

    /// <summary>Closes the connection politely, as a node leaving the network would.</summary>
    public void Disconnect() =>
        Switch.Tell(new Switching.Switch.StopPeer(NodeUnderTest.Id, PeerStopReason.Stopped("probe disconnected"), Graceful: true));

    /// <summary>
    /// Stops acknowledging what arrives from the next message on: the probe's connection then stops reading, so it
    /// neither takes messages nor answers pings, and the node's pong timeout runs (on the test clock).
    /// </summary>
    public void StopReading() => _reactor.Tell(new ForwardingReactor.StopReading());

    /// <summary>Acknowledges what was held and reads again.</summary>
    public void ResumeReading() => _reactor.Tell(new ForwardingReactor.ResumeReading());

    /// <summary>
    /// Advances the test clock by <paramref name="step"/> at a time, up to <paramref name="max"/>, until the node
    /// under test removes this peer; returns the node's reason. Between steps it gives the connection's stages a
    /// short real-time window to act on the timers just fired (a timer armed by a stage is armed at the test
    /// clock's time when the stage runs, so one big jump could skip it).
    /// </summary>
    public async Task<PeerStopReason> AdvanceTimeUntilRemoved(TimeSpan step, TimeSpan max)
    {
        for (var elapsed = TimeSpan.Zero; elapsed < max; elapsed += step)
        {
            _kit.AdvanceTime(step);
            try
            {
                return await ExpectRemoved(TimeSpan.FromMilliseconds(200));
            }
            catch (Exception)
            {
                // Not removed yet: advance again.
            }
        }
        return await ExpectRemoved();
    }

    /// <summary>Waits until the node under test removes this peer, and returns the node's reason.</summary>
    public async Task<PeerStopReason> ExpectRemoved(TimeSpan? timeout = null)
    {
        var disconnected = (Switching.Switch.PeerDisconnected)await _nodeEvents.FishForMessageAsync(
            m => m is Switching.Switch.PeerDisconnected d && d.Peer.Id == Id, _kit.Dilated(timeout ?? P2PTestKit.DefaultTimeout));
        return disconnected.Reason;
    }

    /// <summary>
    /// Breaks the protocol: sends a message one byte larger than the node's receive capacity on a channel both
    /// sides share (the one with the smallest capacity), which the node must answer by stopping this peer with
    /// <c>ProtocolViolation.ReceiveCapacityExceeded</c>. The probe sends it because its own descriptor does not limit
    /// what it sends, only what it receives. The node reads at its <c>recv-rate</c>, paced by the test clock, so
    /// the shared channel's capacity should be small (a few KiB) or the node's <c>RecvRate</c> 0 (unlimited).
    /// </summary>
    public Task Misbehave()
    {
        var shared = NodeUnderTest.Channels.Where(n => Channels.Any(p => p.Id == n.Id)).OrderBy(n => n.RecvMessageCapacity).FirstOrDefault()
            ?? throw new InvalidOperationException($"probe {Id} shares no channel with the node under test");
        return Send(shared.Id, new byte[shared.RecvMessageCapacity + 1]);
    }
}
