using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using TendermintActors.Streams.Internal;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using ByteString = Akka.IO.ByteString;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The MConnection's receive rate limit stage on its own, on the test scheduler's clock, fed by a source fused with it
/// (that reads only when it pulls). That it does not read while the budget is spent is observed end to end
/// (<c>MConnectionReceiveSpecs</c>, the receive rate limit specs).
/// </summary>
public sealed class ReceiveRateLimitStageSpecs(ITestOutputHelper output) : MConnectionSpec(output)
{
    private (TestSubscriber.Probe<ByteString> Reads, TestSubscriber.Probe<ReceiveBudget> Budget) Run(
        long recvRate, Source<ByteString, NotUsed> wire) =>
        RunnableGraph.FromGraph(GraphDsl.Create(
            this.SinkProbe<ByteString>(), this.SinkProbe<ReceiveBudget>(), (reads, budget) => (reads, budget),
            (builder, reads, budget) =>
            {
                var limit = builder.Add(new ReceiveRateLimitStage(Unlimited with { RecvRate = recvRate }));
                builder.From(builder.Add(wire).Outlet).To(limit.In);
                builder.From(limit.Out0).To(reads);
                builder.From(limit.Out1).To(budget);
                return ClosedShape.Instance;
            })).Run(Materializer);

    [Fact]
    public void Reads_pass_as_they_are_and_a_spent_budget_is_told_and_restored_by_a_refill()
    {
        // 10 000 B/s, read at up to 10 200 (TokenBucket.ReceiveAllowance): a 1020-byte burst, 102 bytes per 10 ms refill.
        var first = ByteString.FromBytes(Bytes(1021, 1));
        var second = ByteString.FromBytes(Bytes(10, 2));
        var (reads, budget) = Run(10_000, Writes(first, second));
        budget.Request(10);
        reads.Request(1);
        Assert.Same(first, reads.ExpectNext(Timeout)); // passed on, not copied: a lent buffer stays lent
        Assert.True(budget.ExpectNext(Timeout).IsSpent);

        reads.Request(1);
        AdvanceInRefillTicks(MConnectionStage.MaxRefillTick); // 102 bytes pay the 1-byte debt
        Assert.False(budget.ExpectNext(Timeout).IsSpent);
        Assert.Same(second, reads.ExpectNext(Timeout)); // and reading goes on
    }

    [Fact]
    public void Without_a_limit_reads_only_pass_through()
    {
        var (reads, budget) = Run(0, Source.From([ByteString.FromBytes(Bytes(100_000, 1)), ByteString.FromBytes(Bytes(100_000, 2))]));
        budget.Request(10);
        reads.Request(2);
        reads.ExpectNext(Timeout);
        reads.ExpectNext(Timeout);
        reads.ExpectComplete();
        budget.ExpectComplete(); // never spent: nothing told before the end
    }
}
