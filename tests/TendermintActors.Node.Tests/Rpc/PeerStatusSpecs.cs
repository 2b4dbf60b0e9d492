using System.Net;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using TendermintActors.Node.Rpc;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Streams;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Node.Tests.Rpc;

/// <summary>
/// How <c>/net_info</c> asks one peer for its status: the answer when the peer gives one, nothing when the peer stops
/// first (at once, not after the ask's timeout) or never answers.
/// </summary>
public sealed class PeerStatusSpecs : TestKit
{
    // Far longer than any wait below: an answer that comes only with this timeout fails the test.
    private static readonly TimeSpan AskTimeout = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task A_peer_that_answers_gives_its_status()
    {
        var peer = CreateTestProbe();
        var asked = RpcServer.PeerStatus(peer.Ref, AskTimeout);
        peer.ExpectMsg<Peer.GetStatus>();
        var status = NewStatus(peer.Ref);
        peer.Reply(status);

        Assert.Same(status, await asked.WaitAsync(Dilated(TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public async Task A_peer_that_stops_before_it_answers_is_left_out_at_once()
    {
        var peer = CreateTestProbe();
        var asked = RpcServer.PeerStatus(peer.Ref, AskTimeout);
        peer.ExpectMsg<Peer.GetStatus>();
        Sys.Stop(peer.Ref);

        Assert.Null(await asked.WaitAsync(Dilated(TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public async Task A_peer_already_stopped_is_left_out_at_once()
    {
        var peer = CreateTestProbe();
        Watch(peer.Ref);
        Sys.Stop(peer.Ref);
        ExpectTerminated(peer.Ref);

        Assert.Null(await RpcServer.PeerStatus(peer.Ref, AskTimeout).WaitAsync(Dilated(TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public async Task A_live_peer_that_never_answers_is_left_out_after_the_timeout()
    {
        var peer = CreateTestProbe();
        Assert.Null(await RpcServer.PeerStatus(peer.Ref, TimeSpan.FromMilliseconds(100)).WaitAsync(Dilated(TimeSpan.FromSeconds(10))));
        peer.ExpectMsg<Peer.GetStatus>();
    }

    private static Peer.Status NewStatus(IActorRef actor)
    {
        var id = NodeKey.Generate().Id;
        var info = NodeInfoModel.Create(id, "tcp://127.0.0.1:26656", "test-net", "answering", [0x42]);
        var handle = new PeerHandle(id, info, isOutbound: true, isPersistent: false, new IPEndPoint(IPAddress.Loopback, 26656), null, actor);
        return new Peer.Status(handle, TimeSpan.FromSeconds(1), new MConnection.ConnectionStatus([], 0, 0, 0, 0, false));
    }
}
