using System.Buffers;
using System.Collections.Immutable;
using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit.Xunit2;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.SecretConnection;
using TendermintActors.Streams;
using TendermintActors.Tests.Support;
using Xunit.Abstractions;
using Model = TendermintActors.Protocol.NodeInfo.NodeInfo;
using Tcp = Akka.Streams.Dsl.Tcp;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// Two of our SecretConnections over real loopback TCP (the 10 MB exchange runs over every transport in
/// Transport/TransportConformanceSpecs.cs).
/// </summary>
public sealed class SecretConnectionLoopbackSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static Sink<ByteString, Task<byte[]>> Collect() => Transport.TransportConformanceSpecs.Collect();

    /// <summary>
    /// The client's last write is still in flight (the server reads nothing) when the server half-closes and the
    /// client reads that FIN. The client's end of stream must still reach the server once it reads again: Akka.IO
    /// forgets a half-close that waits for a write when the peer's FIN arrives meanwhile, so the stage may only
    /// complete towards TCP once the last write is acknowledged.
    /// </summary>
    [Fact]
    public async Task End_of_stream_reaches_the_remote_when_its_fin_arrives_during_our_last_write()
    {
        const int total = 4 * 1024 * 1024; // far beyond what the small socket buffers below hold
        var materializer = Sys.Materializer();
        using var serverKey = NodeKey.Generate();
        using var clientKey = NodeKey.Generate();
        var smallBuffers = ImmutableList.Create<Inet.SocketOption>(new Inet.SO.ReceiveBufferSize(64 * 1024), new Inet.SO.SendBufferSize(64 * 1024));
        var serverStarted = new TaskCompletionSource<(TaskCompletionSource<ByteString?> Output, Task<byte[]> Received)>();
        var serverReading = new TaskCompletionSource();
        var serverMayRead = new TaskCompletionSource<NotUsed>();

        var binding = await Sys.TcpStream().Bind("127.0.0.1", 0, options: smallBuffers, halfClose: true)
            .To(Sink.ForEach<Tcp.IncomingConnection>(connection =>
            {
                // Takes the first plaintext, then holds it (and so stops reading TCP) until the spec says.
                var held = Flow.Create<ByteString>().SelectAsync(1, b =>
                {
                    serverReading.TrySetResult();
                    return serverMayRead.Task.ContinueWith(_ => b);
                });
                var app = Flow.FromSinkAndSource(held.ToMaterialized(Collect(), Keep.Right), Source.Maybe<ByteString>(), Keep.Both);
                var (_, (received, output)) = connection.HandleWith(SecretConnection.Create(serverKey).JoinUnderMat(app, Keep.Both), materializer);
                serverStarted.TrySetResult((output, received));
            }))
            .Run(materializer);

        var clientReceived = Source.Single(ByteString.FromBytes(new byte[total]))
            .Via(SecretConnection.Create(clientKey)
                .Join(Sys.TcpStream().OutgoingConnection(binding.LocalAddress, options: smallBuffers)))
            .RunWith(Collect(), materializer);

        var server = await serverStarted.Task.WaitAsync(Dilated(Timeout));
        await serverReading.Task.WaitAsync(Dilated(Timeout)); // the client's one large write is on its way
        server.Output.TrySetResult(null); // the server's application is done: its FIN goes out
        Assert.Empty(await clientReceived.WaitAsync(Dilated(Timeout))); // and the client has read it
        serverMayRead.TrySetResult(NotUsed.Instance);
        Assert.Equal(total, (await server.Received.WaitAsync(Dilated(Timeout))).Length);
        await binding.Unbind();
    }

    private Model NodeInfo(NodeKey key, string network = "test-net") =>
        Model.Create(key.Id, "tcp://127.0.0.1:26656", network, "spec-node", [0x40, 0x20], version: "0.1.0");

    private (Task<UpgradeResult> Result, Task Done) DialUpgrade(UpgradeServer server, NodeKey key, Model info, NodeId? expected) =>
        Source.Never<ByteString>()
            .ViaMaterialized(SecretConnection.Upgrade(key, info, new SecretConnectionSettings { ExpectedRemoteId = expected })
                .JoinMat(Sys.TcpStream().OutgoingConnection(server.Endpoint), (Task<UpgradeResult> r, Task<Tcp.OutgoingConnection> _) => r),
                (NotUsed _, Task<UpgradeResult> r) => r)
            .ToMaterialized(Sink.Ignore<ByteString>(), (r, d) => (r, (Task)d))
            .Run(Sys.Materializer());

    [Fact]
    public async Task Upgrade_exchanges_node_info_after_the_secret_connection()
    {
        using var serverKey = NodeKey.Generate();
        using var clientKey = NodeKey.Generate();
        var server = await UpgradeServer.Start(Sys, Sys.Materializer(), serverKey, NodeInfo(serverKey), new SecretConnectionSettings(), TestActor);
        var (result, _) = DialUpgrade(server, clientKey, NodeInfo(clientKey), serverKey.Id);
        var atClient = await result.WaitAsync(Dilated(Timeout));
        Assert.Equal(serverKey.Id, atClient.Connection.RemoteId);
        Assert.Equal("spec-node", atClient.RemoteNodeInfo!.Moniker);
        var atServer = await ExpectMsgAsync<UpgradeServer.Upgraded>(Dilated(Timeout));
        Assert.Equal(clientKey.Id.Hex, atServer.Result.RemoteNodeInfo!.DefaultNodeId);
    }

    [Fact]
    public async Task Upgrade_rejects_another_network_on_both_sides()
    {
        using var serverKey = NodeKey.Generate();
        using var clientKey = NodeKey.Generate();
        var server = await UpgradeServer.Start(Sys, Sys.Materializer(), serverKey, NodeInfo(serverKey), new SecretConnectionSettings(), TestActor);
        var (result, done) = DialUpgrade(server, clientKey, NodeInfo(clientKey, network: "other-net"), serverKey.Id);
        var atClient = await Assert.ThrowsAnyAsync<PeerConnectionException>(() => result.WaitAsync(Dilated(Timeout)));
        var atServer = (await ExpectMsgAsync<UpgradeServer.UpgradeFailed>(Dilated(Timeout))).Error;
        await Assert.ThrowsAnyAsync<PeerConnectionException>(() => done.WaitAsync(Dilated(Timeout)));
        AssertRejectedOrCutShort(atClient, atServer, NodeInfoRejection.IncompatibleNetwork);
    }

    [Fact]
    public async Task Upgrade_detects_a_connection_to_ourselves()
    {
        using var key = NodeKey.Generate();
        var server = await UpgradeServer.Start(Sys, Sys.Materializer(), key, NodeInfo(key), new SecretConnectionSettings(), TestActor);
        var (result, _) = DialUpgrade(server, key, NodeInfo(key), expected: null);
        var atClient = await Assert.ThrowsAnyAsync<PeerConnectionException>(() => result.WaitAsync(Dilated(Timeout)));
        var atServer = (await ExpectMsgAsync<UpgradeServer.UpgradeFailed>(Dilated(Timeout))).Error;
        AssertRejectedOrCutShort(atClient, atServer, NodeInfoRejection.SelfConnection);
    }

    /// <summary>
    /// Both sides send their node info at once; the side that reads the other's first rejects it and closes, so the
    /// other side either rejects it too or sees the connection end first. At least one names the real reason.
    /// </summary>
    private static void AssertRejectedOrCutShort(Exception atClient, Exception atServer, NodeInfoRejection reason)
    {
        foreach (var error in new[] { atClient, atServer })
        {
            var ok = error is NodeInfoRejectedException r && r.Reason == reason
                || error is HandshakeFailedException h && h.Reason == HandshakeFailure.UnexpectedEof;
            Assert.True(ok, $"unexpected {error}");
        }
        Assert.Contains(new[] { atClient, atServer }, e => e is NodeInfoRejectedException r && r.Reason == reason);
    }
}

/// <summary>The handshake deadline, driven by Akka's TestScheduler: no wall-clock wait.</summary>
public sealed class SecretConnectionDeadlineSpecs(ITestOutputHelper output)
    : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"", output: output)
{
    [Fact]
    public async Task Upgrade_that_does_not_finish_in_time_fails_with_timeout()
    {
        using var key = NodeKey.Generate();
        var deadline = TimeSpan.FromSeconds(20);
        // The remote never says anything; our side has sent its ephemeral key and waits.
        var sent = CreateTestProbe();
        var transport = Flow.FromSinkAndSource(Sink.ActorRef<ByteString>(sent.Ref, "closed", e => e), Source.Never<ByteString>(), Keep.None);
        var (result, done) = Source.Never<ByteString>()
            .ViaMaterialized(SecretConnection.Create(key, new SecretConnectionSettings { HandshakeTimeout = deadline })
                .JoinMat(transport, (Task<SecretConnectionInfo> r, NotUsed _) => r), (NotUsed _, Task<SecretConnectionInfo> r) => r)
            .ToMaterialized(Sink.Ignore<ByteString>(), (r, d) => (r, (Task)d))
            .Run(Sys.Materializer());
        Assert.Equal(35, (await sent.ExpectMsgAsync<ByteString>()).Count); // our ephemeral key went out

        var scheduler = (Akka.TestKit.TestScheduler)Sys.Scheduler;
        scheduler.Advance(deadline - TimeSpan.FromMilliseconds(1));
        Assert.False(result.IsCompleted);
        scheduler.Advance(TimeSpan.FromMilliseconds(1));
        var e = await Assert.ThrowsAsync<HandshakeFailedException>(() => result.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(HandshakeFailure.Timeout, e.Reason);
        await Assert.ThrowsAsync<HandshakeFailedException>(() => done.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.IsType<HandshakeFailedException>(await sent.ExpectMsgAsync<Exception>()); // the transport is failed too
    }
}

/// <summary>The stage against a remote the spec plays in memory with the protocol's own handshake.</summary>
public sealed class SecretConnectionCompletionSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public async Task Application_that_finished_during_the_handshake_ends_the_stream_once_upgraded()
    {
        using var key = NodeKey.Generate();
        using var remoteKey = NodeKey.Generate();
        using var remote = new SecretConnectionHandshake(remoteKey);
        var sent = CreateTestProbe();
        var transport = Flow.FromSinkAndSource(Sink.ActorRef<ByteString>(sent.Ref, "closed", e => e),
            Source.Queue<ByteString>(4, OverflowStrategy.Fail), Keep.Right);
        var fromRemote = Source.Empty<ByteString>() // done before the upgrade has even started
            .ViaMaterialized(SecretConnection.Create(key).JoinMat(transport, Keep.Right), Keep.Right)
            .ToMaterialized(Sink.Ignore<ByteString>(), Keep.Left)
            .Run(Sys.Materializer());

        var remoteEphemeralKey = remote.Start();
        var remoteReply = new ArrayBufferWriter<byte>();
        remote.Feed((await sent.ExpectMsgAsync<ByteString>()).ToArray(), remoteReply); // our ephemeral key
        await fromRemote.OfferAsync(ByteString.FromBytes(remoteEphemeralKey));
        Assert.True((await sent.ExpectMsgAsync<ByteString>()).Count > 0); // our AuthSig: nothing more to send
        await fromRemote.OfferAsync(ByteString.FromBytes(remoteReply.WrittenSpan.ToArray())); // the remote's AuthSig
        Assert.Equal("closed", await sent.ExpectMsgAsync<string>());
    }
}
