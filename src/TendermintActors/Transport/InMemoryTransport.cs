using System.Net;
using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Streams.Internal;

namespace TendermintActors.Transport;

/// <summary>
/// Connections without sockets, for protocol specs: listeners register under a host:port in an
/// <see cref="InMemoryNetwork"/> shared by the nodes of a test, and a dial gets a pair of bounded channels
/// (back-pressure and close/failure propagate as over TCP). Loopback-like IPs can be used as hosts, so admission
/// rules keyed on IP behave as they would.
/// </summary>
public sealed class InMemoryTransport(InMemoryNetwork network) : IP2PTransport
{
    public Source<TransportConnection, Task<TransportBinding>> Bind(string host, int port) =>
        Source.Queue<TransportConnection>(64, OverflowStrategy.Backpressure)
            .MapMaterializedValue(queue => network.Register(host, port, queue));

    public Flow<ByteString, ByteString, Task<EndPoint>> Dial(string host, int port, TimeSpan timeout)
    {
        var toRemote = Channel.CreateBounded<ByteString>(16);
        var fromRemote = Channel.CreateBounded<ByteString>(16);
        return Compositions.FromSinkAndSource(ToRemote(toRemote.Writer), FromRemote(fromRemote.Reader))
            .MapMaterializedValue(_ =>
            {
                var connected = network.Connect(host, port, client => new TransportConnection(client,
                    Compositions.FromSinkAndSource(ToRemote(fromRemote.Writer), FromRemote(toRemote.Reader))));
                // A refused dial fails the connection's stream as a refused TCP connect would.
                connected.ContinueWith(t => fromRemote.Writer.TryComplete(t.Exception!.GetBaseException()), TaskContinuationOptions.OnlyOnFaulted);
                return connected;
            });
    }

    /// <summary>
    /// One direction's sending end. A side that fails resets the connection, as an aborted socket would: the remote
    /// reads "connection reset by peer", never the failing side's own exception (which is that side's business, and
    /// would make the remote report the failure as its own).
    /// </summary>
    private static Sink<ByteString, NotUsed> ToRemote(ChannelWriter<ByteString> writer) =>
        Flow.Create<ByteString>()
            .SelectError(_ => new IOException("connection reset by peer"))
            .To(ChannelSink.FromWriter(writer, true));

    /// <summary>
    /// One direction's receiving end. A reset or a refused dial fails it with the <see cref="IOException"/> itself,
    /// as a socket's read would, not wrapped in the <see cref="AggregateException"/> the channel's reader adds.
    /// </summary>
    private static Source<ByteString, NotUsed> FromRemote(ChannelReader<ByteString> reader) =>
        ChannelSource.FromReader(reader)
            .SelectError(e => e is AggregateException aggregate ? aggregate.GetBaseException() : e);
}

/// <summary>
/// The listeners of one in-memory network (one per test), kept by an actor: binding and dialling talk to it by
/// message, so no state is shared between the nodes that use it.
/// </summary>
public sealed class InMemoryNetwork
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);
    private readonly IActorRef _registry;

    private InMemoryNetwork(IActorRef registry) => _registry = registry;

    public static InMemoryNetwork Create(IActorRefFactory system) =>
        new(system.ActorOf(Props.Create(() => new Registry()), $"in-memory-network-{Guid.NewGuid():N}"));

    internal async Task<TransportBinding> Register(string host, int port, ISourceQueueWithComplete<TransportConnection> queue)
    {
        var bound = await _registry.Ask<object>(new Registry.Bind(host, port, queue), AskTimeout);
        if (bound is Status.Failure failure) throw failure.Cause;
        var local = (EndPoint)bound;
        return new TransportBinding(local, async () =>
        {
            await _registry.Ask<Done>(new Registry.Unbind(local), AskTimeout);
            queue.Complete();
        });
    }

    internal async Task<EndPoint> Connect(string host, int port, Func<EndPoint, TransportConnection> serverSide)
    {
        var found = await _registry.Ask<object>(new Registry.Lookup(host, port), AskTimeout);
        if (found is not Registry.Found(var queue, var listener, var client))
            throw new IOException($"cannot dial {host}:{port}: connection refused");
        var result = await queue.OfferAsync(serverSide(client));
        if (result is not QueueOfferResult.Enqueued)
            throw new IOException($"cannot dial {host}:{port}: listener is closing");
        return listener;
    }

    private sealed class Registry : ReceiveActor
    {
        public sealed record Bind(string Host, int Port, ISourceQueueWithComplete<TransportConnection> Queue);
        public sealed record Unbind(EndPoint Local);
        public sealed record Lookup(string Host, int Port);
        public sealed record Found(ISourceQueueWithComplete<TransportConnection> Queue, EndPoint Listener, EndPoint Client);

        private readonly Dictionary<string, (ISourceQueueWithComplete<TransportConnection> Queue, EndPoint Local)> _listeners = new();
        private int _nextPort = 40000;
        private int _nextClientPort = 50000;

        public Registry()
        {
            Receive<Bind>(b =>
            {
                var port = b.Port == 0 ? ++_nextPort : b.Port;
                var key = $"{b.Host}:{port}";
                if (_listeners.ContainsKey(key))
                {
                    Sender.Tell(new Status.Failure(new IOException($"cannot listen on {key}: address in use")));
                    return;
                }
                EndPoint local = IPAddress.TryParse(b.Host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(b.Host, port);
                _listeners[key] = (b.Queue, local);
                Sender.Tell(local);
            });
            Receive<Unbind>(u =>
            {
                foreach (var key in _listeners.Where(kv => kv.Value.Local.Equals(u.Local)).Select(kv => kv.Key).ToList())
                    _listeners.Remove(key);
                Sender.Tell(Done.Instance);
            });
            Receive<Lookup>(l =>
            {
                if (_listeners.TryGetValue($"{l.Host}:{l.Port}", out var listener))
                    Sender.Tell(new Found(listener.Queue, listener.Local, new IPEndPoint(IPAddress.Loopback, ++_nextClientPort)));
                else
                    Sender.Tell(Done.Instance);
            });
        }
    }
}
