using System.Buffers;
using Akka;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Streams;
using TendermintActors.Transport;

namespace TendermintActors.Node.Bench;

/// <summary>The hostile peers of <c>bench soak</c> (<see cref="SoakScenarios.Hostile"/>), built from the public stream API.</summary>
internal static class SoakHostilePeer
{
    /// <summary>The target's handshake deadline (its default): a stalled handshake is hung up on by then.</summary>
    private static readonly TimeSpan TargetHandshakeTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// A hostile connection: it misbehaves (or stalls) and waits for the target to hang up. <c>closed</c> when it
    /// did within the timeout (a stalled handshake: the target's handshake deadline plus the timeout),
    /// <c>not-closed</c> otherwise.
    /// </summary>
    public static async Task<SoakTally.Outcome> RunAsync(IP2PTransport transport, IMaterializer materializer, NetAddress target, string network, string scenario,
        TimeSpan timeout, CancellationToken churning)
    {
        using var key = NodeKey.Generate();
        // Our side: what to send, then nothing more (a source that stays open until we complete it).
        var payload = scenario switch
        {
            SoakScenarios.Garbage => Garbage(),
            SoakScenarios.Oversized => Packet(SoakTarget.EchoChannel, PacketCodec.DefaultMaxPayloadSize * 4),
            SoakScenarios.UnknownChannel => Packet(0x77, 16),
            _ => null,
        };
        var ours = payload is null
            ? Source.Maybe<ByteString>()
            : Source.Single(payload).ConcatMaterialized(Source.Maybe<ByteString>(), Keep.Right);
        var app = Flow.FromSinkAndSource(Sink.Ignore<ByteString>(), ours, Keep.Both);
        var dial = transport.Dial(target.Host, target.Port, timeout);
        Task<Done> closed;
        TaskCompletionSource<ByteString?> end;
        Task? upgraded = null;
        if (payload is null)
            (closed, end) = dial.JoinMaterialized(app, Keep.Right).Run(materializer);
        else
        {
            var (up, (c, e)) = dial.JoinMaterialized(SecretConnection.Upgrade(key, SoakScenarios.PeerInfo(key, network, scenario), new SecretConnectionSettings { HandshakeTimeout = timeout, ExpectedRemoteId = target.Id }).JoinUnderMat(app, (u, a) => (u, a)), Keep.Right)
                .Run(materializer);
            (upgraded, closed, end) = (up, c, e);
        }
        try
        {
            if (upgraded is not null)
            {
                try
                {
                    await upgraded.WaitAsync(timeout + TimeSpan.FromSeconds(5), churning);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    return new SoakTally.Outcome(scenario, "connect-failed", e.GetBaseException().Message);
                }
            }
            var limit = timeout + (payload is null ? TargetHandshakeTimeout : TimeSpan.Zero);
            try
            {
                await closed.WaitAsync(limit, churning);
            }
            catch (TimeoutException)
            {
                return new SoakTally.Outcome(scenario, "not-closed", $"still open after {limit.TotalSeconds:0} s");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Reset rather than closed: hung up on all the same.
            }
            return new SoakTally.Outcome(scenario, "closed");
        }
        finally
        {
            end.TrySetResult(null);
        }
    }

    /// <summary>A packet of 5 bytes that is no protobuf: field 31, wire type 7 (none such), then noise.</summary>
    private static ByteString Garbage() => ByteString.FromBytes([0x05, 0xff, 0xff, 0xff, 0xff, 0x0f]);

    private static ByteString Packet(byte channel, int size)
    {
        var writer = new ArrayBufferWriter<byte>();
        PacketCodec.WritePacketMsg(writer, channel, eof: true, new byte[size]);
        return ByteString.FromBytes(writer.WrittenSpan.ToArray());
    }
}
