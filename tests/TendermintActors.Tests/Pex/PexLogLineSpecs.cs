using Akka.Actor;
using Akka.Event;
using TendermintActors.Peers;
using TendermintActors.Switching;
using TendermintActors.Tests.AddrBook;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Pex;

/// <summary>What PEX tells an operator about its seeds.</summary>
public sealed class PexLogLineSpecs : PexSpecBase
{
    public PexLogLineSpecs(ITestOutputHelper output) : base(output)
    {
        // Before PEX starts: an actor's logging adapter takes the level it is created with.
        Sys.EventStream.SetLogLevel(LogLevel.InfoLevel);
    }

    [Fact]
    public void A_seed_that_cannot_be_dialled_is_one_info_line_with_the_error_and_when_the_seeds_are_tried_again()
    {
        var logs = CreateTestProbe();
        Sys.EventStream.Subscribe(logs.Ref, typeof(Info));
        var seeds = new[] { Addrs.Routable(901), Addrs.Routable(902) };
        StartPex(Defaults with { Seeds = seeds });
        AnswerDialState(maxOutbound: 10);

        Info NextSeedLine() =>
            (Info)logs.FishForMessage(m => m is Info i && i.Message.ToString()!.StartsWith("PEX: could not dial seed"));

        var first = Assert.Single(ExpectDials(1));
        Pex.Tell(new Switch.ConnectionRejected(first.Id, first, new PeerStopReason("transport/closed", "connection refused")));
        var line = NextSeedLine();
        Assert.Contains("transport/closed: connection refused; trying the next seed now", line.Message.ToString());
        Assert.Null(line.Cause);
        Assert.True(line.TryGetProperties(out var properties));
        Assert.Equal(first, properties!["Peer"]);

        var second = Assert.Single(ExpectDials(1));
        Pex.Tell(new Switch.ConnectionRejected(second.Id, second, new PeerStopReason("transport/closed", "connection refused")));
        var last = NextSeedLine().Message.ToString()!;
        Assert.Contains("transport/closed: connection refused; the seeds are dialled again next round, in 30s at ", last);
        Assert.Matches(@"at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", last);
    }
}
