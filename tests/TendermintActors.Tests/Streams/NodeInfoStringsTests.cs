using TendermintActors.Protocol.Identity;
using TendermintActors.Streams.Internal;
using NodeInfoModel = TendermintActors.Protocol.NodeInfo.NodeInfo;

namespace TendermintActors.Tests.Streams;

/// <summary>A peer's node info, kept for the peer's life, shares the strings that equal ours rather than copies of them.</summary>
public sealed class NodeInfoStringsTests
{
    // Made at run time, as decoding makes them: equal to ours, never the same instances.
    private static string Copy(string text) => new(text.AsSpan());

    private static readonly NodeInfoModel Local =
        NodeInfoModel.Create(NodeKey.Generate().Id, "tcp://0.0.0.0:26656", "test-net", "us", [0x40], version: "0.34.24");

    [Fact]
    public void A_remote_node_info_takes_our_network_version_and_tx_index_where_they_are_equal()
    {
        var remote = NodeInfoModel.Create(NodeKey.Generate().Id, "tcp://127.0.0.1:26656", Copy("test-net"), "them", [0x40],
            version: Copy("0.34.24"), txIndex: Copy("off"));
        Assert.NotSame(Local.Network, remote.Network);

        var shared = NodeInfoStrings.SharingLocal(remote, Local)!;

        Assert.Same(Local.Network, shared.Network);
        Assert.Same(Local.Version, shared.Version);
        Assert.Same(Local.TxIndex, shared.TxIndex);
        Assert.Equal(remote, shared);
    }

    [Fact]
    public void A_remote_node_info_takes_the_authenticated_node_ID_where_it_is_the_one_it_declares()
    {
        var key = NodeKey.Generate();
        var authenticated = NodeId.FromPublicKey(key.PublicKey);
        var remote = NodeInfoModel.Create(NodeId.Parse(Copy(key.Id.Hex)), "tcp://127.0.0.1:26656", Copy("test-net"), "them", [0x40]);
        Assert.NotSame(authenticated.Hex, remote.DefaultNodeId);

        var shared = NodeInfoStrings.SharingLocal(remote, Local, authenticated)!;

        Assert.Same(authenticated.Hex, shared.DefaultNodeId);
        Assert.Equal(remote, shared);
        // Another ID (the handshake refuses such a peer anyway) is kept as it was sent.
        var other = NodeId.FromPublicKey(NodeKey.Generate().PublicKey);
        Assert.Same(remote.DefaultNodeId, NodeInfoStrings.SharingLocal(remote, Local, other)!.DefaultNodeId);
    }

    [Fact]
    public void What_differs_from_ours_is_kept_as_the_remote_sent_it()
    {
        var remote = NodeInfoModel.Create(NodeKey.Generate().Id, "tcp://127.0.0.1:26656", Copy("test-net"), "them", [0x40],
            version: "0.38.0", txIndex: "on");

        var shared = NodeInfoStrings.SharingLocal(remote, Local)!;

        Assert.Same(remote.Version, shared.Version);
        Assert.Same(remote.TxIndex, shared.TxIndex);
        Assert.Same(Local.Network, shared.Network);
        // Nothing left to share: the same node info back.
        Assert.Same(shared, NodeInfoStrings.SharingLocal(shared, Local));
    }
}
