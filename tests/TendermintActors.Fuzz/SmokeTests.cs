using System.Buffers;
using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Fuzz;

/// <summary>The corpus replayed through every target without afl (what <c>fuzz.sh --smoke</c> runs), and checks that the harness can fail.</summary>
public sealed class SmokeTests
{
    private static string Corpus => Path.Combine(AppContext.BaseDirectory, "corpus");

    public static TheoryData<string> TargetNames() => [.. Targets.All.Keys];

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void Every_corpus_input_is_accepted_or_rejected_by(string target)
    {
        var dir = Path.Combine(Corpus, target);
        var files = Directory.GetFiles(dir);
        Assert.NotEmpty(files);
        var failures = files.Select(f => (File: Path.GetFileName(f), Failure: Smoke.Replay(Targets.All[target], File.ReadAllBytes(f))))
            .Where(r => r.Failure is not null).Select(r => $"{r.File}: {r.Failure}").ToList();
        Assert.Empty(failures);
    }

    [Fact]
    public void Replay_reports_an_exception_that_is_not_a_rejection_as_a_failure()
    {
        Assert.Contains("NullReferenceException", Smoke.Replay(_ => throw new NullReferenceException(), []));
    }

    [Fact]
    public void Replay_reports_a_target_that_does_not_return_as_a_hang()
    {
        using var never = new ManualResetEventSlim();
        try
        {
            Assert.Contains("hang", Smoke.Replay(_ => never.Wait(), [], TimeSpan.FromMilliseconds(50)));
        }
        finally
        {
            never.Set();
        }
    }

    [Fact]
    public void Chunks_cut_the_input_after_its_first_byte_by_that_byte()
    {
        Assert.Equal([2, 2, 1], Targets.Chunks([2, 1, 2, 3, 4, 5]).Select(c => c.Length));
        Assert.Equal([5], Targets.Chunks([0, 1, 2, 3, 4, 5]).Select(c => c.Length));
        Assert.Empty(Targets.Chunks([]));
    }

    // The seeds that should get past the handshake do: otherwise the deeper targets fuzz only the first check.

    [Fact]
    public void The_fixed_remote_authenticates_with_the_valid_auth_sig_seed()
    {
        using var handshake = new SecretConnectionHandshake(FixedKeys.Local, ephemeral: FixedKeys.LocalEphemeral);
        handshake.Start();
        var output = new ArrayBufferWriter<byte>();
        handshake.Feed(FixedKeys.Remote.EphemeralKeyMessage, output);
        using var sealer = new FrameSealer(FixedKeys.Remote.SendKey);
        var plaintext = File.ReadAllBytes(Path.Combine(Corpus, "auth-sig", "valid"))[1..];
        var sealedBytes = new byte[Frame.SealedLength(plaintext.Length)];
        sealer.Seal(plaintext, sealedBytes);
        handshake.Feed(sealedBytes, output);
        Assert.True(handshake.IsComplete);
    }

    [Fact]
    public void The_fixed_local_node_accepts_the_valid_node_info_seed()
    {
        using var upgrade = new ConnectionUpgrade(FixedKeys.Local, FixedKeys.LocalInfo, ephemeral: FixedKeys.LocalEphemeral);
        upgrade.Start();
        var output = new ArrayBufferWriter<byte>();
        upgrade.Feed(FixedKeys.Remote.EphemeralKeyMessage, output);
        upgrade.Feed(FixedKeys.Remote.SealedAuthSig, output);
        using var sealer = new FrameSealer(FixedKeys.Remote.SendKey, FixedKeys.Remote.AuthSigFrames);
        var plaintext = File.ReadAllBytes(Path.Combine(Corpus, "node-info", "valid"))[1..];
        var sealedBytes = new byte[Frame.SealedLength(plaintext.Length)];
        sealer.Seal(plaintext, sealedBytes);
        upgrade.Feed(sealedBytes, output);
        Assert.True(upgrade.IsComplete);
        Assert.Equal(FixedKeys.RemoteInfo.Moniker, upgrade.RemoteNodeInfo!.Moniker);
    }
}
