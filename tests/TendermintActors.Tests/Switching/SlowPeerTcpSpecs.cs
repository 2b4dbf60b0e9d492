using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TendermintActors.Peers;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Switching;
using TendermintActors.Tests.Support;
using TendermintActors.Transport;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Switching;

/// <summary>
/// A remote that stops reading, over real loopback TCP with each TCP transport: its receive window closes, and what
/// our process holds for it stays within the channel's send queue; the rest waits in the kernel's socket buffers.
/// (The same case on the in-memory transport, with exact counts and the send timeout, is in SlowPeerSpecs.)
/// </summary>
public sealed class SlowPeerTcpSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const byte Channel = 0x40;
    private static readonly byte[] Big = new byte[4 * 1024 * 1024];

    /// <summary>
    /// Messages of <see cref="Big"/> the kernel's socket buffers can take on top of the queue: on Linux, the largest
    /// send buffer (tcp_wmem) plus the largest receive buffer (tcp_rmem) a connection may grow to, and one more for
    /// the messages cut across them; elsewhere a generous guess.
    /// </summary>
    private static int KernelBuffered()
    {
        static long Max(string sysctl) =>
            File.Exists(sysctl) ? long.Parse(File.ReadAllText(sysctl).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[2]) : 0;
        var bytes = Max("/proc/sys/net/ipv4/tcp_wmem") + Max("/proc/sys/net/ipv4/tcp_rmem");
        return bytes == 0 ? 16 : (int)(bytes / Big.Length) + 2;
    }

    private sealed record Node(NodeKey Key, IActorRef Switch, TestProbe Reactor, NetAddress Address);

    private async Task<Node> StartNode(string name, IP2PTransport transport, ChannelDescriptor channel, bool silent)
    {
        var key = NodeKey.Generate();
        var reactor = CreateTestProbe();
        var props = silent ? SilentReactor.Props(reactor.Ref) : RecordingReactor.Props(reactor.Ref);
        var settings = new Switch.Settings { ListenHost = "127.0.0.1", ListenPort = 0, Moniker = name, DialStartJitter = TimeSpan.Zero };
        settings = settings with { Connection = settings.Connection with { SendRate = 0, RecvRate = 0 } };
        var sw = Sys.ActorOf(Switch.Props(key, settings, [new ReactorRegistration("reactor", Sys.ActorOf(props, $"{name}-reactor"), [channel])],
            transport), $"{name}-switch");
        var events = CreateTestProbe();
        sw.Tell(new Switch.Subscribe(events.Ref));
        var listen = (IPEndPoint)(await events.ExpectMsgAsync<Switch.Listening>(Dilated(Timeout))).ListenAddress!;
        return new Node(key, sw, reactor, new NetAddress(key.Id, listen.Address, listen.Port));
    }

    [Theory]
    [InlineData("sockets")]
    [InlineData("akka-io")]
    public async Task A_remote_whose_tcp_window_closes_gets_no_more_than_the_send_queue_and_the_kernel_buffers(string transport)
    {
        IP2PTransport Transport() => transport == "sockets" ? new TcpTransport() : new AkkaIoTransport();
        var channel = new ChannelDescriptor(Channel, 1) { SendQueueCapacity = 2 };
        var a = await StartNode("a", Transport(), channel, silent: false);
        // b's reactor never acknowledges: b reads one message, then stops reading the socket.
        var b = await StartNode("b", Transport(), channel with { RecvBufferCapacity = 1 }, silent: true);
        a.Switch.Tell(new Switch.DialPeers([b.Address]));
        var peer = (await a.Reactor.ExpectMsgAsync<Reactor.PeerAdded>(Dilated(Timeout))).Peer;

        var most = channel.SendQueueCapacity + 1 + KernelBuffered();
        var taken = 0;
        while (true)
        {
            peer.TrySend(Channel, Big, TestActor, taken);
            if (!(await ExpectMsgAsync<Peer.SendResult>(Dilated(Timeout))).Accepted)
                break;
            Assert.True(++taken <= most, $"{taken} messages of 4 MiB taken for a remote that stopped reading: something buffers without bound");
        }
        Output.WriteLine($"{taken} messages of 4 MiB taken before the first refusal (at most {most})");
        await b.Reactor.FishForMessageAsync(m => m is Reactor.Received, Dilated(Timeout));
    }
}
