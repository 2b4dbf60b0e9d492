using System.Buffers;
using BenchmarkDotNet.Attributes;
using TendermintActors.Protocol.Identity;
using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Benchmarks;

/// <summary>
/// Both sides of a SecretConnection handshake in memory, with fresh ephemeral keys each time (as every real
/// connection has): X25519 twice, HKDF, Merlin, an Ed25519 signature and a verification per side, the first frames.
/// One operation is the pair, so one side costs about half.
/// </summary>
[MemoryDiagnoser]
public class HandshakeBenchmarks
{
    private readonly ArrayBufferWriter<byte> _toA = new();
    private readonly ArrayBufferWriter<byte> _toB = new();
    private NodeKey _keyA = null!;
    private NodeKey _keyB = null!;

    [GlobalSetup]
    public void Setup()
    {
        _keyA = NodeKey.Generate();
        _keyB = NodeKey.Generate();
        if (HandshakePair() != _keyB.Id)
            throw new InvalidOperationException("the handshake did not authenticate B");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _keyA.Dispose();
        _keyB.Dispose();
    }

    [Benchmark]
    public NodeId HandshakePair()
    {
        using var a = new SecretConnectionHandshake(_keyA, _keyB.Id);
        using var b = new SecretConnectionHandshake(_keyB);
        _toA.Clear();
        _toB.Clear();
        _toB.Write(a.Start());
        _toA.Write(b.Start());
        // Deliver whatever each side has written until neither has anything left to say.
        while (_toA.WrittenCount > 0 || _toB.WrittenCount > 0)
        {
            Deliver(_toB, b, _toA);
            Deliver(_toA, a, _toB);
        }
        if (!a.IsComplete || !b.IsComplete)
            throw new InvalidOperationException("the handshake stopped before both sides completed");
        using var sessionA = a.Session!;
        using var sessionB = b.Session!;
        return sessionA.RemoteId;
    }

    private static void Deliver(ArrayBufferWriter<byte> inbox, SecretConnectionHandshake to, ArrayBufferWriter<byte> reply)
    {
        if (inbox.WrittenCount == 0) return;
        var bytes = inbox.WrittenSpan.ToArray();
        inbox.Clear();
        to.Feed(bytes, reply);
    }
}
