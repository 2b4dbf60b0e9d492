using System.Text;
using TendermintActors.Protocol.Crypto;

namespace TendermintActors.Protocol.Tests.Crypto;

public class MerlinTests
{
    private static string Expected(string name)
    {
        foreach (var c in VectorFiles.Json("merlin.json").GetProperty("cases").EnumerateArray())
            if (c.Str("name") == name)
                return c.Str("expected_hex");
        throw new ArgumentException(name);
    }

    [Fact]
    public void Simple_transcript_matches_the_vector()
    {
        var vector = VectorFiles.Json("merlin.json").GetProperty("cases")[0];
        var transcript = new MerlinTranscript(vector.Str("label"));
        var challenge = Array.Empty<byte>();
        foreach (var step in vector.GetProperty("steps").EnumerateArray())
        {
            if (step.Str("op") == "append")
                transcript.AppendMessage(step.Str("label"), Encoding.UTF8.GetBytes(step.Str("message_utf8")));
            else
            {
                challenge = new byte[step.GetProperty("length").GetInt32()];
                transcript.ChallengeBytes(step.Str("label"), challenge);
            }
        }
        Assert.Equal(Expected("simple"), Convert.ToHexStringLower(challenge));
    }

    [Fact]
    public void Complex_transcript_matches_the_vector()
    {
        // append('step1', 'some data'); 32 times: c = extract('challenge', 32); append('bigdata', 1024 × 0x63); append('challengedata', c)
        var transcript = new MerlinTranscript("test protocol");
        transcript.AppendMessage("step1", "some data"u8);
        var data = Enumerable.Repeat((byte)0x63, 1024).ToArray();
        var challenge = new byte[32];
        for (var i = 0; i < 32; i++)
        {
            transcript.ChallengeBytes("challenge", challenge);
            transcript.AppendMessage("bigdata", data);
            transcript.AppendMessage("challengedata", challenge);
        }
        Assert.Equal(Expected("complex"), Convert.ToHexStringLower(challenge));
    }

    [Fact]
    public void Different_labels_give_different_challenges()
    {
        var a = new MerlinTranscript("test protocol");
        var b = new MerlinTranscript("test protocoL");
        var ca = new byte[32];
        var cb = new byte[32];
        a.ChallengeBytes("c", ca);
        b.ChallengeBytes("c", cb);
        Assert.NotEqual(ca, cb);
    }
}
