using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.Pex;

namespace TendermintActors.Protocol.Tests.Pex;

public sealed class CrawlHistoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly NetAddress Addr = NetAddress.Parse(new string('a', 40) + "@10.0.0.1:26656");

    [Fact]
    public void An_address_is_crawled_at_most_once_per_two_minutes()
    {
        var crawls = new CrawlHistory(PexConstants.DefaultMinTimeBetweenCrawls);

        Assert.True(crawls.TryStart(Addr, T0));
        Assert.False(crawls.TryStart(Addr, T0 + TimeSpan.FromSeconds(119)));
        Assert.True(crawls.TryStart(Addr, T0 + TimeSpan.FromSeconds(120)));
    }

    [Fact]
    public void Records_older_than_a_day_are_forgotten()
    {
        var crawls = new CrawlHistory(TimeSpan.FromMinutes(2));
        crawls.TryStart(Addr, T0);

        crawls.Cleanup(T0 + TimeSpan.FromHours(24));
        Assert.Equal(1, crawls.Count);
        crawls.Cleanup(T0 + TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        Assert.Equal(0, crawls.Count);
    }
}
