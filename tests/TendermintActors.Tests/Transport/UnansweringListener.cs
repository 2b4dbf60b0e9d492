using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace TendermintActors.Tests.Transport;

/// <summary>
/// A listener that never accepts, with its queue full: the kernel drops further SYNs, so a connect to it hangs.
/// </summary>
internal static class UnansweringListener
{
    /// <summary>
    /// Null (with a note) on a kernel that refuses past a full backlog instead (tcp_abort_on_overflow): then there is
    /// nothing to time out.
    /// </summary>
    public static async Task<IDisposable?> Start(ITestOutputHelper output, Action<int> port, IPAddress? address = null, int atPort = 0)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address ?? IPAddress.Loopback, atPort));
        listener.Listen(0);
        var sockets = new List<Socket> { listener };
        var all = new Disposables(sockets);
        for (var i = 0; i < 4; i++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            sockets.Add(filler);
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            try { await filler.ConnectAsync(listener.LocalEndPoint!, cts.Token); }
            catch (OperationCanceledException) // this one already hangs: the queue is full
            {
                port(((IPEndPoint)listener.LocalEndPoint!).Port);
                return all;
            }
            catch (SocketException) { break; }
        }
        all.Dispose();
        output.WriteLine("this kernel refuses connections past a full backlog instead of dropping them: nothing to time out");
        return null;
    }

    private sealed class Disposables(List<Socket> sockets) : IDisposable
    {
        public void Dispose() => sockets.ForEach(s => s.Dispose());
    }
}
