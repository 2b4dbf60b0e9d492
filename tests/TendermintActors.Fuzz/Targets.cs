using System.Text;
using Akka.Configuration;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TendermintActors.Configuration;
using TendermintActors.Node.Runtime;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Codec;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.MConnection;
using TendermintActors.Protocol.Pex;
using TendermintActors.Protocol.SecretConnection;
using Wire = TendermintActors.Protocol.Wire;

namespace TendermintActors.Fuzz;

/// <summary>
/// One fuzz target per decoder of bytes that come from a peer or a file. A target returns normally when the decoder
/// accepts the input or rejects it with the exception it declares for that (its "rejected" outcome); any other
/// exception escapes and is a crash, as is a broken invariant (<see cref="Check"/>), a hang or running out of memory.
/// </summary>
public static class Targets
{
    /// <summary>The targets by the name fuzz.sh and the corpus folders use.</summary>
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new SortedDictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["length-delimited"] = LengthDelimitedReader,
        ["ephemeral-key"] = EphemeralKey,
        ["auth-sig"] = AuthSig,
        ["frame-opener"] = FrameOpenerTarget,
        ["packet-decoder"] = PacketDecoderTarget,
        ["reassembler"] = ReassemblerTarget,
        ["node-info"] = NodeInfoTarget,
        ["pex-message"] = PexMessageTarget,
        ["addrbook-json"] = AddrBookJsonTarget,
        ["node-key-json"] = NodeKeyJsonTarget,
        ["hocon-settings"] = HoconSettings,
    };

    /// <summary>A broken invariant: not a rejection, so it escapes every target as a crash.</summary>
    public sealed class InvariantBrokenException(string message) : Exception(message);

    private static void Check(bool condition, string what)
    {
        if (!condition) throw new InvariantBrokenException(what);
    }

    /// <summary>
    /// Inputs of the stream decoders start with one byte that says how the rest is cut into chunks (0: in one piece),
    /// so that the fuzzer also explores where reads end.
    /// </summary>
    internal static IEnumerable<ReadOnlyMemory<byte>> Chunks(byte[] input)
    {
        if (input.Length == 0) yield break;
        var size = input[0] == 0 ? int.MaxValue : input[0];
        ReadOnlyMemory<byte> rest = input.AsMemory(1);
        while (!rest.IsEmpty)
        {
            var n = Math.Min(size, rest.Length);
            yield return rest[..n];
            rest = rest[n..];
        }
    }

    /// <summary>Codec/LengthDelimited.cs: frames read one after another, each body parsed; rejects with ProtocolViolationException.</summary>
    public static void LengthDelimitedReader(byte[] input)
    {
        const int maxSize = 4096;
        try
        {
            ReadOnlySpan<byte> rest = input;
            while (LengthDelimited.TryFrame(rest, maxSize, out var prefix, out var length))
            {
                Check(prefix is > 0 and <= LengthDelimited.MaxPrefixLength && length <= maxSize && prefix + length <= rest.Length,
                    "TryFrame returned a frame outside its input");
                LengthDelimited.Parse(BytesValue.Parser, rest.Slice(prefix, length));
                rest = rest[(prefix + length)..];
            }
        }
        catch (ProtocolViolationException) { }
        try
        {
            LengthDelimited.DecodeExact(input, Wire.Packet.Parser, maxSize);
        }
        catch (ProtocolViolationException) { }
    }

    /// <summary>SecretConnection/SecretConnectionHandshake.cs, the ephemeral key in the clear; rejects with HandshakeFailedException.</summary>
    public static void EphemeralKey(byte[] input)
    {
        using var handshake = new SecretConnectionHandshake(FixedKeys.Local, ephemeral: FixedKeys.LocalEphemeral);
        handshake.Start();
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        try
        {
            foreach (var chunk in Chunks(input))
                handshake.Feed(chunk.Span, output);
            handshake.OnEndOfStream();
        }
        catch (HandshakeFailedException) { }
    }

    /// <summary>
    /// SecretConnection/SecretConnectionHandshake.cs, the auth signature message: the input is the plaintext the remote
    /// sends after a valid ephemeral key, sealed with the remote's real send key; rejects with HandshakeFailedException.
    /// </summary>
    public static void AuthSig(byte[] input)
    {
        using var handshake = new SecretConnectionHandshake(FixedKeys.Local, ephemeral: FixedKeys.LocalEphemeral);
        handshake.Start();
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        handshake.Feed(FixedKeys.Remote.EphemeralKeyMessage, output);
        using var sealer = new FrameSealer(FixedKeys.Remote.SendKey);
        try
        {
            foreach (var chunk in Chunks(input))
                Feed(handshake, Seal(sealer, chunk.Span), output);
            handshake.OnEndOfStream();
        }
        catch (HandshakeFailedException) { }
        if (handshake.IsComplete)
            Check(handshake.Session!.RemoteId == FixedKeys.RemoteKey.Id, "the handshake completed for a key that is not the remote's");
    }

    private static void Feed(SecretConnectionHandshake handshake, byte[] ciphertext, System.Buffers.IBufferWriter<byte> output)
    {
        if (handshake.IsComplete) handshake.Session!.Open(ciphertext);
        else handshake.Feed(ciphertext, output);
    }

    private static byte[] Seal(FrameSealer sealer, ReadOnlySpan<byte> plaintext)
    {
        var sealedBytes = new byte[Frame.SealedLength(plaintext.Length)];
        sealer.Seal(plaintext, sealedBytes);
        return sealedBytes;
    }

    /// <summary>
    /// SecretConnection/Frames.cs, the frame opener with a fixed key, as the session uses it (opening into a
    /// PlaintextBuffer). After the chunking byte, one byte chooses the mode: odd, the rest is ciphertext as is
    /// (exercising authentication and partial frames); even, the rest is cut into plain frames (4-byte length, 1024
    /// bytes) that are sealed with the right key and nonces, so the checks after decryption are reached. Rejects with
    /// ProtocolViolationException.
    /// </summary>
    public static void FrameOpenerTarget(byte[] input)
    {
        if (input.Length < 2) return;
        var chunkByte = input[0];
        var raw = (input[1] & 1) == 1;
        var body = input.AsSpan(2);
        byte[] ciphertext;
        if (raw)
        {
            ciphertext = body.ToArray();
        }
        else
        {
            using var cipher = FrameCipher.Create(FixedKeys.FrameKey);
            var frames = (body.Length + Frame.PlainSize - 1) / Frame.PlainSize;
            ciphertext = new byte[frames * Frame.SealedSize];
            var plain = new byte[Frame.PlainSize];
            Span<byte> nonce = stackalloc byte[FrameCipher.NonceSize];
            for (var i = 0; i < frames; i++)
            {
                Array.Clear(plain);
                var part = body.Slice(i * Frame.PlainSize, Math.Min(Frame.PlainSize, body.Length - i * Frame.PlainSize));
                part.CopyTo(plain);
                Frame.WriteNonce((ulong)i, nonce);
                cipher.Seal(nonce, plain, ciphertext.AsSpan(i * Frame.SealedSize, Frame.SealedSize));
            }
        }
        using var opener = new FrameOpener(FixedKeys.FrameKey);
        var buffer = new PlaintextBuffer();
        try
        {
            foreach (var chunk in Chunks([chunkByte, .. ciphertext]))
            {
                var before = buffer.Count;
                var framesDone = opener.Counter;
                opener.Open(chunk.Span, buffer);
                Check(buffer.Count - before <= (long)(opener.Counter - framesDone) * Frame.DataMaxSize,
                    "more plaintext than the frames opened can carry");
                Check(opener.PendingBytes < Frame.SealedSize, "a whole frame left pending");
            }
        }
        catch (ProtocolViolationException) { }
    }

    /// <summary>
    /// MConnection/PacketDecoder.cs: the stream through both decoding paths (in place, and Feed/TryDecode through
    /// Google.Protobuf), which must agree on every packet and on whether the stream is rejected
    /// (ProtocolViolationException).
    /// </summary>
    public static void PacketDecoderTarget(byte[] input)
    {
        var maxPacketSize = PacketCodec.MaxPacketSize(PacketCodec.DefaultMaxPayloadSize);
        var inPlace = new List<string>();
        string? inPlaceError = null;
        var decoder = new PacketDecoder(maxPacketSize);
        try
        {
            foreach (var chunk in Chunks(input))
                decoder.Decode(chunk.Span, (kind, channel, eof, data) => inPlace.Add(Describe(kind, channel, eof, data)));
        }
        catch (ProtocolViolationException e) { inPlaceError = e.Reason.ToString(); }

        var parsed = new List<string>();
        string? parsedError = null;
        var general = new PacketDecoder(maxPacketSize);
        try
        {
            foreach (var chunk in Chunks(input))
            {
                general.Feed(chunk.Span);
                while (general.TryDecode(out Wire.Packet? packet))
                    parsed.Add(packet.SumCase == Wire.Packet.SumOneofCase.PacketMsg
                        ? Describe(packet.SumCase, packet.PacketMsg.ChannelId, packet.PacketMsg.Eof, packet.PacketMsg.Data.Span)
                        : Describe(packet.SumCase, 0, false, default));
            }
        }
        catch (ProtocolViolationException e) { parsedError = e.Reason.ToString(); }

        Check(inPlaceError == parsedError, $"the two decoding paths disagree on rejection: {inPlaceError ?? "none"} vs {parsedError ?? "none"}");
        Check(inPlace.SequenceEqual(parsed), "the two decoding paths disagree on the packets");
        if (inPlaceError is null)
            Check(decoder.BufferedBytes == general.BufferedBytes, "the two decoding paths hold different unfinished bytes");
    }

    private static string Describe(Wire.Packet.SumOneofCase kind, int channel, bool eof, ReadOnlySpan<byte> data) =>
        $"{kind}/{channel}/{eof}/{Convert.ToHexString(data)}";

    /// <summary>
    /// Channels of the reassembler target: one small receive capacity so that the limit is reachable. Made per run
    /// rather than in a static initialiser: instrumented code must not run before SharpFuzz has set up its trace.
    /// </summary>
    private static ChannelDescriptor[] ReassemblerChannels() =>
    [
        new(0x01, 1) { RecvMessageCapacity = 4096 },
        StandardChannels.Pex,
        StandardChannels.Mempool,
    ];

    /// <summary>MConnection/Reassembler.cs fed the packets of a stream; rejects with ProtocolViolationException.</summary>
    public static void ReassemblerTarget(byte[] input)
    {
        var reassembler = new Reassembler(ReassemblerChannels());
        var decoder = new PacketDecoder(PacketCodec.MaxPacketSize(PacketCodec.DefaultMaxPayloadSize));
        var pending = new Dictionary<int, long>();
        try
        {
            foreach (var chunk in Chunks(input))
                decoder.Decode(chunk.Span, (kind, channel, eof, data) =>
                {
                    if (kind != Wire.Packet.SumOneofCase.PacketMsg) return;
                    var message = reassembler.Accept(channel, eof, data);
                    pending.TryGetValue(channel, out var before);
                    if (eof)
                    {
                        Check(message is not null && message.Length == before + data.Length, "a message did not come out whole at eof");
                        pending[channel] = 0;
                    }
                    else
                    {
                        Check(message is null, "a message came out before eof");
                        pending[channel] = before + data.Length;
                    }
                    Check(reassembler.BufferedBytes((byte)channel) == pending[channel], "the reassembler counts its bytes wrong");
                });
        }
        catch (ProtocolViolationException) { }
    }

    /// <summary>
    /// SecretConnection/ConnectionUpgrade.cs, the node info exchange: the input is the plaintext the authenticated
    /// remote sends, sealed with its send key; NodeInfo decoding and every check of docs/protocol.md §4.
    /// Rejects with NodeInfoRejectedException.
    /// </summary>
    public static void NodeInfoTarget(byte[] input)
    {
        using var upgrade = new ConnectionUpgrade(FixedKeys.Local, FixedKeys.LocalInfo, ephemeral: FixedKeys.LocalEphemeral);
        upgrade.Start();
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        upgrade.Feed(FixedKeys.Remote.EphemeralKeyMessage, output);
        upgrade.Feed(FixedKeys.Remote.SealedAuthSig, output);
        Check(upgrade.IsAuthenticated, "the fixed handshake did not authenticate");
        using var sealer = new FrameSealer(FixedKeys.Remote.SendKey, firstCounter: FixedKeys.Remote.AuthSigFrames);
        try
        {
            foreach (var chunk in Chunks(input))
                upgrade.Feed(Seal(sealer, chunk.Span), output);
            upgrade.OnEndOfStream();
        }
        catch (NodeInfoRejectedException) { }
        if (upgrade.IsComplete)
        {
            var remote = upgrade.RemoteNodeInfo!;
            Check(remote.Id == FixedKeys.RemoteKey.Id, "accepted a node info for another ID");
            remote.ToNetAddress();
        }
    }

    /// <summary>Pex/PexMessage.cs; rejects with PexViolationException. What decodes re-encodes and decodes to the same.</summary>
    public static void PexMessageTarget(byte[] input)
    {
        PexMessage message;
        try
        {
            message = PexMessage.Decode(input);
        }
        catch (PexViolationException) { return; }
        if (message is PexMessage.Addrs addrs)
        {
            var again = PexMessage.Decode(PexMessage.EncodeAddrs(addrs.Addresses));
            Check(again is PexMessage.Addrs a && a.Addresses.SequenceEqual(addrs.Addresses), "PexAddrs does not survive a round trip");
        }
    }

    /// <summary>AddrBook/AddrBookJson.cs, the address book file; rejects with AddrBookFileCorruptException. What loads saves and loads again.</summary>
    public static void AddrBookJsonTarget(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        AddressBook book;
        try
        {
            book = AddrBookJson.Deserialize(text, routabilityStrict: false, new Random(1));
        }
        catch (AddrBookFileCorruptException) { return; }
        var again = AddrBookJson.Deserialize(AddrBookJson.Serialize(book), routabilityStrict: false, new Random(1));
        Check(again.Size == book.Size, "the address book does not survive a save and load");
    }

    /// <summary>Identity/NodeKeyFile.cs, node_key.json; rejects with FormatException. What loads formats and loads as the same key.</summary>
    public static void NodeKeyJsonTarget(byte[] input)
    {
        NodeKey key;
        try
        {
            key = NodeKeyFile.Parse(Encoding.UTF8.GetString(input));
        }
        catch (FormatException) { return; }
        using (key)
        using (var again = NodeKeyFile.Parse(NodeKeyFile.Format(key)))
            Check(again.Id == key.Id, "node_key.json does not survive a round trip");
    }

    /// <summary>
    /// The node's HOCON reading (Commands/StartCommand.cs): the bracket and quote check, Akka's parser, then
    /// P2PSettings over the reference config. Rejected: a HoconSyntax fault, the parser's ConfigurationException,
    /// FormatException or ArgumentException (what the node catches), P2PConfigurationException. A hang is a finding.
    /// </summary>
    public static void HoconSettings(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        if (HoconSyntax.Check(text) is not null) return;
        Config config;
        try
        {
            config = HoconSyntax.ParseUnbounded(text);
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or ArgumentException)
        {
            return;
        }
        if (NodeConfig.UnknownKeys(config).Count > 0) return;
        try
        {
            P2PSettings.Create(NodeConfig.Layer([config, P2PReferenceConfig.Load()]));
        }
        catch (P2PConfigurationException) { }
    }
}
