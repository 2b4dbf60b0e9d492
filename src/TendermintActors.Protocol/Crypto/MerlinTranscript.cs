using System.Buffers.Binary;
using System.Text;

namespace TendermintActors.Protocol.Crypto;

/// <summary>
/// A Merlin transcript (STROBE-128, protocol label "Merlin v1.0"): the Fiat–Shamir transcript from which the
/// SecretConnection derives the challenge both sides sign.
/// </summary>
public sealed class MerlinTranscript
{
    private readonly Strobe128 _strobe;

    public MerlinTranscript(string label) : this(Encoding.UTF8.GetBytes(label)) { }

    public MerlinTranscript(ReadOnlySpan<byte> label)
    {
        _strobe = new Strobe128("Merlin v1.0"u8);
        AppendMessage("dom-sep"u8, label);
    }

    public void AppendMessage(string label, ReadOnlySpan<byte> message) => AppendMessage(Encoding.UTF8.GetBytes(label), message);

    public void AppendMessage(ReadOnlySpan<byte> label, ReadOnlySpan<byte> message)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)message.Length);
        _strobe.MetaAd(label, more: false);
        _strobe.MetaAd(length, more: true);
        _strobe.Ad(message, more: false);
    }

    public void ChallengeBytes(string label, Span<byte> output) => ChallengeBytes(Encoding.UTF8.GetBytes(label), output);

    public void ChallengeBytes(ReadOnlySpan<byte> label, Span<byte> output)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)output.Length);
        _strobe.MetaAd(label, more: false);
        _strobe.MetaAd(length, more: true);
        _strobe.Prf(output, more: false);
    }
}
