using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using Xunit.Abstractions;
using static TendermintActors.Streams.MConnection;
using Tcp = Akka.Streams.Dsl.Tcp;

namespace TendermintActors.Tests.Streams;

/// <summary>
/// The whole per-connection stack over loopback TCP: Akka.Streams TCP, SecretConnection and MConnection on both ends,
/// with the default rate limits and small receive bounds so that back-pressure really happens on the way.
/// </summary>
public sealed class MConnectionTcpSpecs : TestKit
{
    private readonly ITestOutputHelper _output;

    public MConnectionTcpSpecs(ITestOutputHelper output) : base(output: output) => _output = output;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static readonly ChannelDescriptor[] Channels =
    [
        new(0x01, 1) { SendQueueCapacity = 64, RecvBufferCapacity = 4 },
        new(0x22, 7) { SendQueueCapacity = 64, RecvBufferCapacity = 4 },
        new(0x90, 3) { SendQueueCapacity = 64, RecvBufferCapacity = 4 },
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // both stages lending their buffers to each other, as in the peer pipeline
    public async Task Random_messages_on_three_channels_cross_loopback_tcp_intact_and_in_order_both_ways(bool lend)
    {
        using var serverKey = NodeKey.Generate();
        using var clientKey = NodeKey.Generate();
        var (client, server, clientOwner, serverOwner, binding) = await ConnectPair(new MConnectionSettings(), serverKey, clientKey, lend);

        var fromClient = RandomMessages(seed: 1);
        var fromServer = RandomMessages(seed: 2);
        Send(client, fromClient);
        Send(server, fromServer);

        var count = fromClient.Values.Sum(l => l.Count);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var results = await Task.WhenAll(Drain(clientOwner, client, count), Drain(serverOwner, server, count));
        var bytes = fromClient.Values.Concat(fromServer.Values).SelectMany(l => l).Sum(m => (long)m.Length);
        _output.WriteLine($"{2 * count} messages, {bytes / 1024.0 / 1024.0:0.0} MiB in {started.ElapsedMilliseconds} ms");

        AssertSameMessages(fromServer, results[0]);
        AssertSameMessages(fromClient, results[1]);

        // A graceful close on one side ends both cleanly: the server sees our end of stream and closes in turn.
        client.Close(flushFirst: true);
        Assert.Null((await clientOwner.ExpectMsgAsync<Stopped>(Timeout)).Reason);
        Assert.Null((await serverOwner.ExpectMsgAsync<Stopped>(Timeout)).Reason);
        await binding.Unbind();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Both_ends_closing_gracefully_at_once_still_deliver_everything_queued_and_end_cleanly(bool lend)
    {
        // 200 kB/s: 60 messages of 1000 bytes take ~0.2 s beyond the 20 kB burst, so both closes begin with data queued
        // and each end sees the other's end of stream while it is still writing (TCP half-close).
        using var serverKey = NodeKey.Generate();
        using var clientKey = NodeKey.Generate();
        var (client, server, clientOwner, serverOwner, binding) =
            await ConnectPair(new MConnectionSettings { SendRate = 200_000 }, serverKey, clientKey, lend);
        var random = new Random(3);
        var fromClient = Enumerable.Range(0, 60).Select(_ => RandomBytes(random, 1000)).ToList();
        var fromServer = Enumerable.Range(0, 60).Select(_ => RandomBytes(random, 1000)).ToList();
        foreach (var message in fromClient) client.Send(0x01, message);
        foreach (var message in fromServer) server.Send(0x01, message);
        client.Close(flushFirst: true);
        server.Close(flushFirst: true);

        var results = await Task.WhenAll(DrainUntilStopped(clientOwner, client), DrainUntilStopped(serverOwner, server));

        Assert.Null(results[0].Reason);
        Assert.Null(results[1].Reason);
        AssertSameMessages(new() { [0x01] = fromServer }, results[0].Received);
        AssertSameMessages(new() { [0x01] = fromClient }, results[1].Received);
        await binding.Unbind();
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>SecretConnection + MConnection on both ends of a loopback TCP connection; the client dialled.</summary>
    private async Task<(MConnectionHandle Client, MConnectionHandle Server, TestProbe ClientOwner, TestProbe ServerOwner, Tcp.ServerBinding Binding)>
        ConnectPair(MConnectionSettings settings, NodeKey serverKey, NodeKey clientKey, bool lend = false)
    {
        settings = settings with { LendOutput = lend };
        var materializer = Sys.Materializer();
        var serverOwner = CreateTestProbe();
        var clientOwner = CreateTestProbe();
        var accepted = new TaskCompletionSource<MConnectionHandle>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Half-close on both ends, as TcpTransport has it: a graceful close ends only our direction.
        var binding = await Sys.TcpStream().Bind("127.0.0.1", 0, halfClose: true)
            .To(Sink.ForEach<Tcp.IncomingConnection>(connection => accepted.TrySetResult(connection.HandleWith(
                SecretConnection.Create(serverKey, new SecretConnectionSettings { LendPlaintext = lend, LendCiphertext = lend })
                    .JoinUnderMat(MConnection.Create(settings, Channels, serverOwner), Keep.Right),
                materializer))))
            .Run(materializer);
        var secretClient = SecretConnection.Create(clientKey, new SecretConnectionSettings { ExpectedRemoteId = serverKey.Id, LendPlaintext = lend, LendCiphertext = lend })
            .JoinMat(Sys.TcpStream().OutgoingConnection(binding.LocalAddress, halfClose: true), Keep.Left);
        var (client, authenticated) = MConnection.Create(settings, Channels, clientOwner)
            .JoinMaterialized(secretClient, Keep.Both)
            .Run(materializer);
        Assert.Equal(serverKey.Id, (await authenticated.WaitAsync(Timeout)).RemoteId);
        return (client, await accepted.Task.WaitAsync(Timeout), clientOwner, serverOwner, binding);
    }

    /// <summary>Acts as the owner (acknowledging each message) until the connection ends; returns what came and why it ended.</summary>
    private static async Task<(Dictionary<byte, List<byte[]>> Received, Exception? Reason)> DrainUntilStopped(TestProbe owner, MConnectionHandle handle)
    {
        var received = new Dictionary<byte, List<byte[]>>();
        while (true)
        {
            switch (await owner.ExpectMsgAsync<IEvent>(Timeout))
            {
                case MessagesReceived batch:
                    Take(batch, received, handle);
                    break;
                case Stopped stopped:
                    return (received, stopped.Reason);
            }
        }
    }

    private static Dictionary<byte, List<byte[]>> RandomMessages(int seed)
    {
        var random = new Random(seed);
        var result = new Dictionary<byte, List<byte[]>>();
        foreach (var channel in Channels)
        {
            var messages = new List<byte[]>();
            for (var i = 0; i < 40; i++)
            {
                // Mostly small messages, some of many packets.
                var size = random.Next(10) == 0 ? random.Next(20_000, 200_000) : random.Next(0, 3000);
                var message = new byte[size];
                random.NextBytes(message);
                messages.Add(message);
            }
            result[channel.Id] = messages;
        }
        return result;
    }

    /// <summary>Everything is queued at once (the queues hold it): the scheduler interleaves the channels.</summary>
    private static void Send(MConnectionHandle handle, Dictionary<byte, List<byte[]>> messages)
    {
        for (var i = 0; i < messages.Values.Max(l => l.Count); i++)
            foreach (var (channel, list) in messages)
                if (i < list.Count)
                    handle.Send(channel, list[i]);
    }

    /// <summary>Acts as the owner: acknowledges each message received (as a reactor would) until all traffic is done.</summary>
    private static async Task<Dictionary<byte, List<byte[]>>> Drain(TestProbe owner, MConnectionHandle handle, int count)
    {
        var received = new Dictionary<byte, List<byte[]>>();
        int r = 0, s = 0;
        while (r < count || s < count)
        {
            switch (await owner.ExpectMsgAsync<IEvent>(Timeout))
            {
                case MessagesReceived batch:
                    Take(batch, received, handle);
                    r += batch.Messages.Count;
                    break;
                case MessagesSent m:
                    s += m.Count;
                    break;
                case var other:
                    Assert.Fail($"unexpected {other}");
                    break;
            }
        }
        return received;
    }

    /// <summary>Keeps each message of the batch per channel and acknowledges it, as a reactor would.</summary>
    private static void Take(MessagesReceived batch, Dictionary<byte, List<byte[]>> received, MConnectionHandle handle)
    {
        foreach (var m in batch.Messages)
        {
            if (!received.TryGetValue(m.Channel, out var list))
                received[m.Channel] = list = [];
            list.Add(m.Message.ToArray());
            handle.Ack(m.Channel);
        }
    }

    private static void AssertSameMessages(Dictionary<byte, List<byte[]>> expected, Dictionary<byte, List<byte[]>> actual)
    {
        foreach (var (channel, messages) in expected)
        {
            Assert.Equal(messages.Count, actual[channel].Count);
            for (var i = 0; i < messages.Count; i++)
                Assert.True(messages[i].AsSpan().SequenceEqual(actual[channel][i]), $"channel 0x{channel:x2}, message {i} differs");
        }
    }
}
