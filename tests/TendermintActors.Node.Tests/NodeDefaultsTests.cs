using TendermintActors.Configuration;
using TendermintActors.Node.Commands;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests;

/// <summary>Where the node's defaults differ from the library's: the collections after a burst of peers and while idle are the node's.</summary>
public sealed class NodeDefaultsTests
{
    [Fact]
    public void The_library_leaves_the_collection_after_a_burst_off_and_the_node_turns_it_on()
    {
        Assert.Equal(0, P2PSettings.Create(P2PReferenceConfig.Load()).GcAfterPeerBurst.MinPeers);
        Assert.Equal(32, P2PSettings.Create(NodeConfig.Defaults()).GcAfterPeerBurst.MinPeers);
    }

    [Fact]
    public void The_library_leaves_the_idle_collection_off_and_the_node_collects_every_MiB()
    {
        Assert.Equal(0, P2PSettings.Create(P2PReferenceConfig.Load()).GcWhenIdle.MinAllocatedBytes);
        Assert.Equal(1024 * 1024, P2PSettings.Create(NodeConfig.Defaults()).GcWhenIdle.MinAllocatedBytes);
    }

    [Fact]
    public void Config_show_gives_the_nodes_default_as_the_default()
    {
        var shown = ConfigCommand.Render(NodeConfig.Defaults());
        Assert.Contains("min-peers = 32\n", shown);
        Assert.DoesNotContain("# default:", shown);
    }
}
