using System.Net;
using Akka;
using Akka.IO;
using Akka.Streams.Dsl;

namespace TendermintActors.Transport;

/// <summary>
/// One raw connection from a transport: the remote's address and a flow whose input is written to the remote and
/// whose output is what the remote sent. Run it by joining a handler (<c>Flow.JoinMaterialized</c>).
/// </summary>
public sealed record TransportConnection(EndPoint RemoteAddress, Flow<ByteString, ByteString, NotUsed> Flow)
{
    /// <summary>
    /// The accepted socket that <see cref="Flow"/> runs, when the transport is <see cref="TcpTransport"/>: the peer
    /// pipeline then runs it in a graph fused once for every connection, instead of joining <see cref="Flow"/>.
    /// </summary>
    internal Internal.SocketTarget? Socket { get; init; }
}

/// <summary>A bound listener: where it listens, and how to stop listening.</summary>
public sealed record TransportBinding(EndPoint LocalAddress, Func<Task> Unbind);

/// <summary>
/// The seam between the switch and the network (as Akka.Remote has Transport and TestTransport). The switch only
/// ever binds and dials through it, so protocol specs run on <see cref="InMemoryTransport"/> and integration tests
/// on <see cref="TcpTransport"/> with the same code above.
/// </summary>
public interface IP2PTransport
{
    /// <summary>Inbound connections; the materialised task completes once bound (or fails naming the address).</summary>
    Source<TransportConnection, Task<TransportBinding>> Bind(string host, int port);

    /// <summary>
    /// An outbound connection to <paramref name="host"/> (an IP literal or a DNS name, resolved at every dial).
    /// The materialised task gives the remote's address once connected, or fails after <paramref name="timeout"/>.
    /// </summary>
    Flow<ByteString, ByteString, Task<EndPoint>> Dial(string host, int port, TimeSpan timeout);

    /// <summary>
    /// Whether a connection's flow runs fused with what is joined to it and is done with each element it is given
    /// (written, or copied) before it pulls the next. Then the peer pipeline lends it one reused write buffer instead
    /// of a fresh array per write. False unless the transport knows it.
    /// </summary>
    internal bool TakesWritesBeforePulling => false;

    /// <summary>
    /// What <see cref="Dial"/> would connect, for a transport whose connections are <see cref="Internal.SocketConnectionStage"/>s
    /// (then the peer pipeline runs it in a graph fused once for every connection); null otherwise.
    /// </summary>
    internal Internal.SocketTarget? DialTarget(string host, int port, TimeSpan timeout) => null;
}
