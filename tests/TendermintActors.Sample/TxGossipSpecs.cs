using System.Text;
using Akka.Actor;
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
        Assert.StartsWith("protocol/", reason.Code);
        reactor.Tell(new TxGossip.SubmitTx(Tx("after")));
        Assert.Equal("after", Text(await p2.ExpectMessage(TxGossip.Channel)));
        await p2.Send(TxGossip.Channel, Tx("from-p2"));
        reactor.Tell(new TxGossip.SubmitTx(Tx("after-2")));
        Assert.Equal("after-2", Text(await p2.ExpectMessage(TxGossip.Channel)));
    }
}
