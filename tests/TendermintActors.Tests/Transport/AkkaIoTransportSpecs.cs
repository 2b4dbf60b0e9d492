using System.Net;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit.Xunit2;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Transport;

/// <summary>
/// What is particular to <see cref="AkkaIoTransport"/>, beyond the conformance suite: names resolved by the transport
/// (through a resolver the spec controls) at every dial and within the dial timeout.
/// </summary>
public sealed class AkkaIoTransportSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_name_is_resolved_again_at_every_dial()
    {
        var resolved = 0;
        var transport = new AkkaIoTransport((name, _) =>
        {
            Assert.Equal("peer.example", name);
            Interlocked.Increment(ref resolved);
            return Task.FromResult(new[] { IPAddress.Loopback });
        });
        var binding = await new AkkaIoTransport().Bind("127.0.0.1", 0).To(Sink.Ignore<TransportConnection>()).Run(Sys.Materializer());
        var port = ((IPEndPoint)binding.LocalAddress).Port;

        for (var dial = 1; dial <= 2; dial++)
        {
            var remote = Source.Never<ByteString>()
                .ViaMaterialized(transport.Dial("peer.example", port, Dilated(Timeout)), Keep.Right)
                .To(Sink.Ignore<ByteString>())
                .Run(Sys.Materializer());
            Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), await remote.WaitAsync(Dilated(Timeout)));
            Assert.Equal(dial, Volatile.Read(ref resolved));
        }
    }

    [Fact]
    public async Task A_name_that_is_not_resolved_within_the_dial_timeout_fails_the_dial_naming_it()
    {
        var transport = new AkkaIoTransport(async (_, token) =>
        {
            await Task.Delay(System.Threading.Timeout.InfiniteTimeSpan, token); // a resolver that never answers
            return [];
        });
        var remote = Source.Never<ByteString>()
            .ViaMaterialized(transport.Dial("silent.example", 26656, TimeSpan.FromMilliseconds(200)), Keep.Right)
            .To(Sink.Ignore<ByteString>())
            .Run(Sys.Materializer());

        var error = await Assert.ThrowsAsync<IOException>(() => remote.WaitAsync(Dilated(Timeout)));
        Assert.Equal("cannot dial silent.example:26656: no address within 0.2 s", error.Message);
    }
}
