using TendermintActors.Node.Commands;

namespace TendermintActors.Node.Tests;

public sealed class LocalnetCommandSpecs
{
    [Fact]
    public async Task Localnet_of_three_nodes_and_a_seed_reaches_a_full_mesh_through_PEX_and_every_node_hears_every_other()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        // A short interval: the greeting on connect plus a few rounds fit in the short run.
        var options = new LocalnetCommand.Options(3, TimeSpan.FromSeconds(2), 0, Live: false) { GossipInterval = TimeSpan.FromMilliseconds(200) };

        var code = await LocalnetCommand.RunAsync(options, stdout, stderr, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(code == 0, $"exit {code}; stdout: {stdout}; stderr: {stderr}");
        var summary = stdout.ToString().Trim();
        // The nodes know only the seed: every other node they reached, they learnt of through PEX.
        Assert.Matches(@"^localnet: 3 nodes and a seed, full mesh reached in [0-9.]+ s through PEX, [1-9][0-9]* messages exchanged, every node heard from every other$", summary);
        Assert.DoesNotContain("[ERROR]", stderr.ToString());
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("1m", 60_000)]
    [InlineData("1.5s", 1_500)]
    public void Durations_parse_the_short_forms(string text, int milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var duration, out _));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("30")]
    [InlineData("-1s")]
    [InlineData("0s")]
    [InlineData("s")]
    [InlineData("1d")]
    public void Durations_refuse_anything_else(string text) => Assert.False(Durations.TryParse(text, out _, out _));

    [Fact]
    public void Localnet_refuses_a_bad_duration_naming_the_option()
    {
        var run = CliRun.Of("localnet", "--duration", "forever");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--duration 'forever'", run.Stderr);
    }

    [Fact]
    public void Localnet_refuses_a_single_node()
    {
        var run = CliRun.Of("localnet", "--nodes", "1", "--duration", "1s");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--nodes 1", run.Stderr);
    }
}
