using System.Text;
using Akka.Actor;
using TendermintActors.Protocol.Errors;
using TendermintActors.TestKit;
using Xunit.Abstractions;

namespace TendermintActors.Sample;

/// <summary>The gossip reactor as a user tests it: one node with the reactor, probe peers around it.</summary>
public sealed class TxGossipSpecs(ITestOutputHelper output) : P2PTestKit(output)
{
    private static byte[] Tx(string s) => Encoding.UTF8.GetBytes(s);

    private static string Text(byte[] b) => Encoding.UTF8.GetString(b);

    private async Task<(TestNode Node, Akka.Actor.IActorRef Reactor, ProbePeer P1, ProbePeer P2)> Start(bool tcp)
    {
        var reactor = Sys.ActorOf(TxGossip.Props());
        var node = await StartNode([TxGossip.Registration(reactor)], tcp: tcp);
        var p1 = await ConnectProbePeer(node, [TxGossip.Descriptor], tcp);
        var p2 = await ConnectProbePeer(node, [TxGossip.Descriptor], tcp);
        return (node, reactor, p1, p2);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tx_from_a_peer_is_relayed_to_the_others_but_not_echoed(bool tcp)
    {
        var (_, _, p1, p2) = await Start(tcp);
        await p1.Send(TxGossip.Channel, Tx("a"));
        Assert.Equal("a", Text(await p2.ExpectMessage(TxGossip.Channel)));
        // Per connection messages arrive in order: if "a" had been echoed to p1, it would come before "b".
        await p2.Send(TxGossip.Channel, Tx("b"));
        Assert.Equal("b", Text(await p1.ExpectMessage(TxGossip.Channel)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Duplicate_tx_is_not_relayed(bool tcp)
    {
        var (_, _, p1, p2) = await Start(tcp);
        await p1.Send(TxGossip.Channel, Tx("a"));
        await p1.Send(TxGossip.Channel, Tx("a"));
        await p1.Send(TxGossip.Channel, Tx("c"));
        Assert.Equal("a", Text(await p2.ExpectMessage(TxGossip.Channel)));
        Assert.Equal("c", Text(await p2.ExpectMessage(TxGossip.Channel)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Local_tx_reaches_every_peer(bool tcp)
    {
        var (_, reactor, p1, p2) = await Start(tcp);
        reactor.Tell(new TxGossip.SubmitTx(Tx("local")));
        Assert.Equal("local", Text(await p1.ExpectMessage(TxGossip.Channel)));
        Assert.Equal("local", Text(await p2.ExpectMessage(TxGossip.Channel)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Misbehaving_peer_is_removed_and_the_other_keeps_working(bool tcp)
    {
        var (_, reactor, p1, p2) = await Start(tcp);
        await p1.Misbehave();
        var reason = await p1.ExpectRemoved();
        Assert.True(reason.IsError);
        Assert.Equal("protocol/receive-capacity-exceeded", reason.Code);
        Assert.Equal(ProtocolViolation.ReceiveCapacityExceeded, Assert.IsType<ProtocolViolationException>(reason.Error).Reason);
        reactor.Tell(new TxGossip.SubmitTx(Tx("after")));
        Assert.Equal("after", Text(await p2.ExpectMessage(TxGossip.Channel)));
        await p2.Send(TxGossip.Channel, Tx("from-p2"));
        reactor.Tell(new TxGossip.SubmitTx(Tx("after-2")));
        Assert.Equal("after-2", Text(await p2.ExpectMessage(TxGossip.Channel)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Peer_that_leaves_is_removed_politely_and_the_other_keeps_working(bool tcp)
    {
        var (_, reactor, p1, p2) = await Start(tcp);
        p1.Disconnect();
        var reason = await p1.ExpectRemoved();
        Assert.False(reason.IsError);
        reactor.Tell(new TxGossip.SubmitTx(Tx("after")));
        Assert.Equal("after", Text(await p2.ExpectMessage(TxGossip.Channel)));
    }

    [Fact]
    public async Task Peer_that_stops_reading_is_dropped_at_the_pong_timeout_on_the_test_clock()
    {
        var reactor = Sys.ActorOf(TxGossip.Props());
        var node = await StartNode([TxGossip.Registration(reactor)]);
        var p1 = await ConnectProbePeer(node, [TxGossip.Descriptor]);
        p1.StopReading();
        reactor.Tell(new TxGossip.SubmitTx(Tx("unread")));
        Assert.Equal("unread", Text(await p1.ExpectMessage(TxGossip.Channel)));
        // Nothing happens in real time: the ping (60 s) and pong timeout (45 s) run only on the test clock.
        await Assert.ThrowsAnyAsync<Exception>(() => p1.ExpectRemoved(TimeSpan.FromMilliseconds(300)));
        var reason = await p1.AdvanceTimeUntilRemoved(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(3));
        Assert.Equal("timeout/pong", reason.Code);
    }
}
