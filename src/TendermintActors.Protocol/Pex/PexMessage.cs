using Google.Protobuf;
using TendermintActors.Protocol.Errors;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Pex;

/// <summary>A message on the PEX channel (the <c>tendermint.p2p.Message</c> envelope, docs/protocol.md §2).</summary>
public abstract record PexMessage
{
    private PexMessage() { }

    /// <summary>"Send me addresses."</summary>
    public sealed record Request : PexMessage
    {
        public static readonly Request Instance = new();
    }

    /// <summary>An answer: addresses whose host is an IP literal (a host name rejects the whole message).</summary>
    public sealed record Addrs(IReadOnlyList<NetAddress> Addresses) : PexMessage;

    /// <summary>The bytes of a <c>Message{pex_request}</c>.</summary>
    public static byte[] EncodeRequest() =>
        new Wire.Message { PexRequest = new Wire.PexRequest() }.ToByteArray();

    /// <summary>The bytes of a <c>Message{pex_addrs}</c>; every address must have an IP literal as its host.</summary>
    public static byte[] EncodeAddrs(IEnumerable<NetAddress> addresses)
    {
        var addrs = new Wire.PexAddrs();
        foreach (var address in addresses)
        {
            if (address.Ip is null)
                throw new ArgumentException($"{address}: PEX carries IP addresses only; resolve host names first", nameof(addresses));
            addrs.Addrs.Add(address.ToProto());
        }
        return new Wire.Message { PexAddrs = addrs }.ToByteArray();
    }

    /// <summary>
    /// Reads one PEX message. As Go does, one bad address (an <c>ip</c> that is not an IP literal, a port over 65535)
    /// rejects the whole message; an invalid ID is left for the address book to refuse, entry by entry.
    /// </summary>
    /// <exception cref="PexViolationException">Undecodable, empty, or carrying an address that is not an IP:port.</exception>
    public static PexMessage Decode(ReadOnlySpan<byte> bytes)
    {
        Wire.Message message;
        try
        {
            message = Wire.Message.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new PexViolationException(PexViolation.Undecodable, $"not a PEX message: {e.Message}", e);
        }
        switch (message.SumCase)
        {
            case Wire.Message.SumOneofCase.PexRequest:
                return Request.Instance;
            case Wire.Message.SumOneofCase.PexAddrs:
                var list = new List<NetAddress>(message.PexAddrs.Addrs.Count);
                foreach (var proto in message.PexAddrs.Addrs)
                {
                    if (!System.Net.IPAddress.TryParse(proto.Ip, out _))
                        throw new PexViolationException(PexViolation.InvalidAddress, $"address '{proto.Id}@{proto.Ip}:{proto.Port}': '{proto.Ip}' is not an IP address");
                    if (proto.Port > ushort.MaxValue)
                        throw new PexViolationException(PexViolation.InvalidAddress, $"address '{proto.Id}@{proto.Ip}:{proto.Port}': port out of range");
                    // An ID that does not parse is not the sender's fault alone (Go lets the book refuse it): skip it.
                    if (NetAddress.TryFromProto(proto, out var address, out _))
                        list.Add(address);
                }
                return new Addrs(list);
            default:
                throw new PexViolationException(PexViolation.Undecodable, "a PEX message with neither pex_request nor pex_addrs");
        }
    }
}

/// <summary>How a peer broke the PEX rules (docs/protocol.md §7).</summary>
public enum PexViolation
{
    /// <summary>The bytes are not a PEX <c>Message</c>, or it holds neither request nor addresses.</summary>
    Undecodable,
    /// <summary>A <c>PexAddrs</c> entry whose <c>ip</c> is not an IP literal (e.g. a host name), or whose port is out of range.</summary>
    InvalidAddress,
    /// <summary><c>PexAddrs</c> that we did not ask for (or a second answer to one request).</summary>
    UnsolicitedAddrs,
    /// <summary>A <c>PexRequest</c> sooner than the request-rate rule allows.</summary>
    RequestTooSoon,
}

/// <summary>A peer broke a PEX rule; the peer is stopped for error (and, except for undecodable bytes, banned).</summary>
public sealed class PexViolationException(PexViolation reason, string detail, Exception? inner = null)
    : PeerConnectionException($"PEX violation ({reason}): {detail}", inner)
{
    public PexViolation Reason { get; } = reason;

    public override string Code => "pex/" + ReasonCode.Kebab(Reason.ToString());

    /// <summary>Go bans the sender's address for every violation but undecodable bytes.</summary>
    public bool Bans => Reason != PexViolation.Undecodable;
}
