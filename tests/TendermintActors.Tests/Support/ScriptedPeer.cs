using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Tests.Support;

/// <summary>
/// A remote peer on a raw socket that says exactly what a test scripts, built from the protocol's own pieces so it
/// can get as far into the handshake as a case needs and then misbehave.
/// </summary>
public sealed class ScriptedPeer : IDisposable
{
    private readonly Socket _socket;
    private readonly TimeSpan _timeout;

    private ScriptedPeer(Socket socket, TimeSpan timeout)
    {
        _socket = socket;
        _timeout = timeout;
    }

    /// <summary>Connects; every later read gives up after <paramref name="timeout"/> (never blocking a thread).</summary>
    public static async Task<ScriptedPeer> Connect(IPEndPoint endpoint, TimeSpan timeout)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(timeout);
        await socket.ConnectAsync(endpoint, cts.Token);
        return new ScriptedPeer(socket, timeout);
    }

    public void Send(ReadOnlySpan<byte> bytes) => _socket.Send(bytes);

    public void SendEphemeralKey(ReadOnlySpan<byte> key) =>
        Send(LengthDelimited.Encode(new BytesValue { Value = ByteString.CopyFrom(key) }));

    public async Task<byte[]> ReadExactly(int count)
    {
        var buffer = new byte[count];
        var read = 0;
        using var cts = new CancellationTokenSource(_timeout);
        while (read < count)
        {
            var n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
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
            while (await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0) { }
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
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
    public void CloseWrite() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Closes at once with SO_LINGER 0, so the remote sees a reset rather than an end of stream.</summary>
    public void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public void Dispose() => _socket.Dispose();

    public sealed record Keys(FrameSealer Sealer, FrameOpener Opener, byte[] Challenge, byte[] SendKey);
}
