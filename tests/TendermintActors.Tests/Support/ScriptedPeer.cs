using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Streams;
using Akka.Streams.Dsl;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.SecretConnection;
using TendermintActors.Transport;

namespace TendermintActors.Tests.Support;

/// <summary>
/// A remote peer on a raw socket that says exactly what a test scripts, built from the protocol's own pieces so it
/// can get as far into the handshake as a case needs and then misbehave.
/// </summary>
public sealed class ScriptedPeer : IDisposable
{
    private readonly IWire _wire;
    private readonly TimeSpan _timeout;

    private ScriptedPeer(IWire wire, TimeSpan timeout)
    {
        _wire = wire;
        _timeout = timeout;
    }

    /// <summary>Connects; every later read gives up after <paramref name="timeout"/> (never blocking a thread).</summary>
    public static async Task<ScriptedPeer> Connect(IPEndPoint endpoint, TimeSpan timeout)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(timeout);
        await socket.ConnectAsync(endpoint, cts.Token);
        return new ScriptedPeer(new SocketWire(socket), timeout);
    }

    /// <summary>Connects through a transport's dial, so the script runs over any transport (in memory too).</summary>
    public static async Task<ScriptedPeer> Connect(IP2PTransport transport, IPEndPoint endpoint, IMaterializer materializer, TimeSpan timeout)
    {
        var wire = new TransportWire();
        var connected = wire.Run(transport.Dial(endpoint.Address.ToString(), endpoint.Port, timeout), materializer);
        await connected.WaitAsync(timeout);
        return new ScriptedPeer(wire, timeout);
    }

    public void Send(ReadOnlySpan<byte> bytes) => _wire.Send(bytes);

    public void SendEphemeralKey(ReadOnlySpan<byte> key) =>
        Send(LengthDelimited.Encode(new BytesValue { Value = ByteString.CopyFrom(key) }));

    public async Task<byte[]> ReadExactly(int count)
    {
        var buffer = new byte[count];
        var read = 0;
        using var cts = new CancellationTokenSource(_timeout);
        while (read < count)
        {
            var n = await _wire.ReceiveAsync(buffer.AsMemory(read), cts.Token);
            if (n == 0) throw new EndOfStreamException($"remote closed after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }

    /// <summary>The remote's ephemeral-key message is always 35 bytes: 0x22, 0x0a, 0x20, then the key.</summary>
    public async Task<byte[]> ReadEphemeralKey() => (await ReadExactly(35))[3..];

    /// <summary>Reads and discards until the remote closes; true when it did (EOF or reset) before the receive timeout.</summary>
    public async Task<bool> WaitForClose()
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(_timeout);
        try
        {
            while (await _wire.ReceiveAsync(buffer, cts.Token) > 0) { }
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return true;
        }
        catch (IOException) // a transport's connection that ended with an error: a reset
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Runs the clear-text half of the handshake honestly (optionally with a chosen ephemeral key) and returns the
    /// keys and challenge, so the script can then send whatever AuthSig or frames it likes.
    /// </summary>
    public async Task<Keys> ExchangeEphemeralKeys(EphemeralKeyPair? ephemeral = null)
    {
        var eph = ephemeral ?? EphemeralKeyPair.Generate();
        SendEphemeralKey(eph.PublicKey);
        var remote = await ReadEphemeralKey();
        var locIsLeast = eph.PublicKey.AsSpan().SequenceCompareTo(remote) < 0;
        var dh = new byte[32];
        if (!eph.TryAgree(remote, dh)) throw new InvalidOperationException("honest exchange gave a zero secret");
        var (recv, send) = SecretConnectionHandshake.DeriveSecrets(dh, locIsLeast);
        var challenge = locIsLeast
            ? SecretConnectionHandshake.ComputeChallenge(eph.PublicKey, remote, dh)
            : SecretConnectionHandshake.ComputeChallenge(remote, eph.PublicKey, dh);
        return new Keys(new FrameSealer(send), new FrameOpener(recv), challenge, send);
    }

    public void SendSealed(FrameSealer sealer, ReadOnlySpan<byte> plaintext)
    {
        var output = new ArrayBufferWriter<byte>();
        sealer.Seal(plaintext, output);
        Send(output.WrittenSpan);
    }

    /// <summary>Half-closes: sends FIN (a clean end of stream) but keeps reading.</summary>
    public void CloseWrite() => _wire.CloseWrite();

    /// <summary>Closes at once with an error (on a socket SO_LINGER 0), so the remote sees a reset rather than an end of stream.</summary>
    public void Reset() => _wire.Reset();

    public void Dispose() => _wire.Dispose();

    private interface IWire : IDisposable
    {
        void Send(ReadOnlySpan<byte> bytes);
        ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token);
        void CloseWrite();
        void Reset();
    }

    private sealed class SocketWire(Socket socket) : IWire
    {
        public void Send(ReadOnlySpan<byte> bytes) => socket.Send(bytes);

        public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token) => socket.ReceiveAsync(buffer, SocketFlags.None, token);

        public void CloseWrite() => socket.Shutdown(SocketShutdown.Send);

        public void Reset()
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }

        public void Dispose() => socket.Dispose();
    }

    /// <summary>A dialled connection's flow run between two channels: writes go in one, reads come out of the other.</summary>
    private sealed class TransportWire : IWire
    {
        private readonly Channel<Akka.IO.ByteString> _writes = Channel.CreateUnbounded<Akka.IO.ByteString>();
        private readonly Channel<Akka.IO.ByteString> _reads = Channel.CreateUnbounded<Akka.IO.ByteString>();
        private ReadOnlyMemory<byte> _unread = ReadOnlyMemory<byte>.Empty;

        public Task<EndPoint> Run(Flow<Akka.IO.ByteString, Akka.IO.ByteString, Task<EndPoint>> dial, IMaterializer materializer) =>
            ChannelSource.FromReader(_writes.Reader)
                .ViaMaterialized(dial, Keep.Right)
                .To(ChannelSink.FromWriter(_reads.Writer, true))
                .Run(materializer);

        public void Send(ReadOnlySpan<byte> bytes) => _writes.Writer.TryWrite(Akka.IO.ByteString.FromBytes(bytes.ToArray()));

        public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token)
        {
            while (_unread.IsEmpty)
            {
                try
                {
                    if (!await _reads.Reader.WaitToReadAsync(token)) return 0;
                }
                catch (Exception e) when (e is not OperationCanceledException) // the stream failed: as a reset on a socket
                {
                    throw new IOException($"the connection failed: {e.GetBaseException().Message}", e);
                }
                if (_reads.Reader.TryRead(out var bytes)) _unread = bytes.ToArray();
            }
            var n = Math.Min(buffer.Length, _unread.Length);
            _unread[..n].CopyTo(buffer);
            _unread = _unread[n..];
            return n;
        }

        public void CloseWrite() => _writes.Writer.TryComplete();

        public void Reset() => _writes.Writer.TryComplete(new IOException("scripted reset"));

        public void Dispose() => _writes.Writer.TryComplete();
    }

    public sealed record Keys(FrameSealer Sealer, FrameOpener Opener, byte[] Challenge, byte[] SendKey);
}
