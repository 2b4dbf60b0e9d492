using System.Net;
using Akka.Actor;
using Akka.IO;
using Akka.Streams.Dsl;
using TcpExt = Akka.Streams.Dsl.TcpExt;
using Tcp = Akka.Streams.Dsl.Tcp;

namespace TendermintActors.Transport;

/// <summary>TCP through Akka.Streams (Akka.IO underneath), half-close on so a graceful stop can flush.</summary>
public sealed class TcpTransport(ActorSystem system) : IP2PTransport
{
    private readonly TcpExt _tcp = system.TcpStream();

    /// <summary>
    /// Akka.Streams' TCP stage (1.5.74, pinned) is a fused GraphStage that hands each element to Akka.IO and pulls the
    /// next only once Akka.IO has acknowledged that write as sent.
    /// </summary>
    bool IP2PTransport.TakesWritesBeforePulling => true;

    public Source<TransportConnection, Task<TransportBinding>> Bind(string host, int port) =>
        _tcp.Bind(host, port, halfClose: true)
            .Select(c => new TransportConnection(c.RemoteAddress, c.Flow))
            .MapMaterializedValue(task => task.ContinueWith(t =>
            {
                if (!t.IsCompletedSuccessfully)
                    throw new IOException($"cannot listen on {host}:{port}: {t.Exception?.GetBaseException().Message}", t.Exception?.GetBaseException());
                var binding = t.Result;
                return new TransportBinding(binding.LocalAddress, () => binding.Unbind());
            }));

    public Flow<ByteString, ByteString, Task<EndPoint>> Dial(string host, int port, TimeSpan timeout)
    {
        // A DnsEndPoint is resolved by Akka.IO when the connection is made, so a name is looked up again at every dial.
        EndPoint remote = IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
        return _tcp.OutgoingConnection(remote, connectionTimeout: timeout, halfClose: true)
            .MapMaterializedValue(task => task.ContinueWith(t => t.IsCompletedSuccessfully
                ? t.Result.RemoteAddress
                : throw new IOException($"cannot dial {host}:{port}: {t.Exception?.GetBaseException().Message}", t.Exception?.GetBaseException())));
    }
}
