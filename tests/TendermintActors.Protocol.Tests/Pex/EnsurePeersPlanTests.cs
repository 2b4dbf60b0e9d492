using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;

namespace TendermintActors.Protocol.Tests.Pex;

public sealed class EnsurePeersPlanTests
{
    private static NetAddress A(char c, string ip = "10.0.0.1") => NetAddress.Parse(new string(c, 40) + "@" + ip + ":26656");

    [Theory]
    [InlineData(10, 0, 0, 10)]
    [InlineData(10, 4, 3, 3)]
    [InlineData(10, 10, 0, 0)]
    [InlineData(10, 8, 5, -3)]
    public void Slots_to_fill_are_max_outbound_minus_outbound_and_dialling(int max, int outbound, int dialling, int expected)
    {
        Assert.Equal(expected, EnsurePeersPlan.NumToDial(max, outbound, dialling));
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(1, 20)]
    [InlineData(8, 90)]
    [InlineData(30, 90)]
    public void The_bias_towards_new_addresses_grows_with_outbound_peers_from_10_to_90_percent(int outbound, int bias)
    {
        Assert.Equal(bias, PexConstants.NewBucketBias(outbound));
    }

    [Fact]
    public void Three_picks_are_tried_per_address_needed()
    {
        Assert.Equal(9, EnsurePeersPlan.PickTries(3));
        Assert.Equal(0, EnsurePeersPlan.PickTries(-2));
    }

    [Fact]
    public void Choose_skips_empty_picks_duplicates_and_what_is_connected_or_dialling_and_stops_at_the_count()
    {
        var connected = A('1');
        var picks = new NetAddress?[] { null, A('2'), A('2'), connected, A('3'), A('4'), A('5') };

        var chosen = EnsurePeersPlan.Choose(picks, 2, a => a == connected);

        Assert.Equal([A('2'), A('3')], chosen);
    }
}
