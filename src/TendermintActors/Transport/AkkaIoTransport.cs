using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Transport.Internal;
using StreamTcp = Akka.Streams.Dsl.Tcp;

namespace TendermintActors.Transport;

/// <summary>
/// TCP through Akka.Streams' <c>Tcp</c> extension (<c>system.TcpStream()</c>), that is Akka.IO's TCP actors, with
/// half-close on: finishing the writes sends our FIN after the last write while reading goes on until the remote's.
/// Interchangeable with <see cref="TcpTransport"/> (both pass one conformance suite); docs/transport-akka-io.md
/// says where the two differ and which is faster.
/// <para>
/// Akka.IO turns Nagle's algorithm off on every connection it makes or accepts. A DNS name is resolved by us at every
/// dial (Akka.IO's own resolver caches), and its first address is dialled within what is left of the dial timeout.
/// </para>
/// </summary>
public sealed class AkkaIoTransport : IP2PTransport
{
    /// <summary>Connections the kernel keeps waiting while the switch has not taken them yet (as TcpTransport).</summary>
    internal const int ListenBacklog = 128;

    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;

    public AkkaIoTransport() : this(System.Net.Dns.GetHostAddressesAsync) { }

    /// <summary>With another resolver of names (specs).</summary>
    internal AkkaIoTransport(Func<string, CancellationToken, Task<IPAddress[]>> resolve) => _resolve = resolve;

    /// <summary>
    /// Accepts one connection per demand (Akka's listener stage resumes accepting once per pull). Unbinding stops
    /// taking connections at once, but closes the listening socket only once the connections it accepted have ended
    /// (see <see cref="DeferredUnbindStage"/>).
    /// </summary>
    public Source<TransportConnection, Task<TransportBinding>> Bind(string host, int port) =>
        Source.Setup((materializer, _) => materializer.System.TcpStream()
                .Bind(host, port, ListenBacklog, halfClose: true)
                .ViaMaterialized(new DeferredUnbindStage(Connection), Keep.Both)
                .Select(c => c with { RemoteAddress = Normalized(c.RemoteAddress) })
                .MapMaterializedValue(bound => Bound(bound.Item1, bound.Item2, host, port)))
            .MapMaterializedValue(t => t.Unwrap());

    public Flow<ByteString, ByteString, Task<EndPoint>> Dial(string host, int port, TimeSpan timeout) =>
        Flow.Setup((materializer, _) =>
            {
                var tcp = materializer.System.TcpStream();
                return IPAddress.TryParse(host, out var ip)
                    ? Connect(tcp, new IPEndPoint(ip, port), host, port, timeout)
                    : ResolveThenConnect(tcp, host, port, timeout);
            })
            .MapMaterializedValue(t => t.Unwrap());

    private static Flow<ByteString, ByteString, Task<EndPoint>> Connect(Akka.Streams.Dsl.TcpExt tcp, IPEndPoint remote, string host, int port, TimeSpan timeout) =>
        Flow.FromGraph(new WriteCompletionStage())
            .ViaMaterialized(tcp.OutgoingConnection(remote, null, null, true, timeout), Keep.Right)
            .SelectError(AsIOException)
            .MapMaterializedValue(connecting => Connected(connecting, host, port, timeout, Stopwatch.GetTimestamp()));

    private static Flow<ByteString, ByteString, NotUsed> Connection(Flow<ByteString, ByteString, NotUsed> accepted) =>
        Flow.FromGraph(new WriteCompletionStage()).Via(accepted).SelectError(AsIOException);

    /// <summary>
    /// Resolves when run, so at every dial. Akka.Streams builds a flow from a task only once an element arrives, so an
    /// empty write starts it at once and is dropped before it reaches the socket.
    /// </summary>
    private Flow<ByteString, ByteString, Task<EndPoint>> ResolveThenConnect(Akka.Streams.Dsl.TcpExt tcp, string host, int port, TimeSpan timeout)
    {
        async Task<Flow<ByteString, ByteString, Task<EndPoint>>> Resolve()
        {
            var started = Stopwatch.GetTimestamp();
            IPAddress[] addresses;
            using (var cts = new CancellationTokenSource(timeout))
            {
                try
                {
                    addresses = await _resolve(host, cts.Token);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    throw new IOException($"cannot dial {host}:{port}: {(e is OperationCanceledException ? $"no address within {timeout.TotalSeconds:0.###} s" : e.Message)}", e);
                }
            }
            if (addresses.Length == 0) throw new IOException($"cannot dial {host}:{port}: the name has no address");
            var left = timeout - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero) throw new IOException($"cannot dial {host}:{port}: no connection within {timeout.TotalSeconds:0.###} s");
            return Flow.Create<ByteString>().Where(b => !b.IsEmpty)
                .ViaMaterialized(Connect(tcp, new IPEndPoint(addresses[0], port), host, port, left), Keep.Right);
        }

        // The lazy flow pulls its first element only on demand from below; a buffer asks at once, so the dial does not
        // wait for the first read.
        return Flow.Create<ByteString>().Prepend(Source.Single(ByteString.Empty))
            .ViaMaterialized(Flow.LazyInitAsync(Resolve), Keep.Right)
            .Buffer(1, OverflowStrategy.Backpressure)
            .MapMaterializedValue(async created =>
            {
                Akka.Util.Option<Task<EndPoint>> connected;
                try
                {
                    connected = await created;
                }
                catch (Exception e) // the lazy flow passes the resolver's failure on wrapped
                {
                    var cause = e.GetBaseException();
                    if (cause is IOException) throw cause;
                    throw new IOException($"cannot dial {host}:{port}: {cause.Message}", cause);
                }
                return connected.HasValue
                    ? await connected.Value
                    : throw new IOException($"cannot dial {host}:{port}: the connection was stopped before it was made");
            });
    }

    private static async Task<EndPoint> Connected(Task<StreamTcp.OutgoingConnection> connecting, string host, int port, TimeSpan timeout, long started)
    {
        try
        {
            return Normalized((await connecting).RemoteAddress);
        }
        catch (Exception e)
        {
            // Akka reports a refused connect and one that timed out alike ("Connection failed"): a failure that came
            // once the timeout had passed is the timeout.
            var cause = e.GetBaseException();
            var why = Stopwatch.GetElapsedTime(started) >= timeout
                ? $"no connection within {timeout.TotalSeconds:0.###} s"
                : cause.Message;
            throw new IOException($"cannot dial {host}:{port}: {why}", cause);
        }
    }

    private static async Task<TransportBinding> Bound(Task<StreamTcp.ServerBinding> binding, Func<Task<bool>> requestUnbind, string host, int port)
    {
        try
        {
            var bound = await binding;
            return new TransportBinding(Normalized(bound.LocalAddress), async () =>
            {
                if (await requestUnbind()) await bound.Unbind(); // nothing accepted is running: stop listening now
            });
        }
        catch (Exception e)
        {
            throw new IOException($"cannot listen on {host}:{port}: {e.Message}", e);
        }
    }

    /// <summary>As TcpTransport: stream failures are IOExceptions, which a peer reports as transport/closed.</summary>
    private static Exception AsIOException(Exception e) =>
        e is StreamTcpException ? new IOException(e.Message, e) : e;

    /// <summary>A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; report them as IPv4, as TcpTransport does.</summary>
    private static EndPoint Normalized(EndPoint endpoint) =>
        endpoint is IPEndPoint { Address.IsIPv4MappedToIPv6: true } ip ? new IPEndPoint(ip.Address.MapToIPv4(), ip.Port) : endpoint;
}
