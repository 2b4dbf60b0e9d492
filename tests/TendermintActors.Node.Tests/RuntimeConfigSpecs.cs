using System.Text.Json.Nodes;

namespace TendermintActors.Node.Tests;

/// <summary>The runtime settings the node ships with (src/TendermintActors.Node/TendermintActors.Node.csproj).</summary>
public sealed class RuntimeConfigSpecs
{
    private static JsonObject ConfigProperties()
    {
        // The node's runtimeconfig.json is copied beside its assembly into this test's output.
        var path = Path.Combine(AppContext.BaseDirectory, "tmactors.runtimeconfig.json");
        return JsonNode.Parse(File.ReadAllText(path))!["runtimeOptions"]!["configProperties"]!.AsObject();
    }

    [Fact]
    public void The_node_runs_workstation_gc_with_background_collections_and_invariant_globalization()
    {
        var properties = ConfigProperties();
        Assert.False(properties["System.GC.Server"]?.GetValue<bool>() ?? false);
        Assert.True(properties["System.GC.Concurrent"]!.GetValue<bool>());
        Assert.True(properties["System.Globalization.Invariant"]!.GetValue<bool>());
    }

    [Fact]
    public void Thread_pool_workers_of_the_node_sleep_without_spinning_when_out_of_work() =>
        Assert.Equal(0, ConfigProperties()["System.Threading.ThreadPool.UnfairSemaphoreSpinLimit"]!.GetValue<int>());
}
