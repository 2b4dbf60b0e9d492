using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Protocol.Tests.SecretConnection;

public class DeriveSecretsTests
{
    public static IEnumerable<object[]> GoldenLines() =>
        File.ReadAllLines(VectorFiles.PathOf("derive-secrets.golden"))
            .Where(l => l.Length > 0)
            .Select((line, i) => new object[] { i + 1, line });

    [Fact]
    public void Golden_file_has_32_lines()
    {
        Assert.Equal(32, GoldenLines().Count());
    }

    [Theory]
    [MemberData(nameof(GoldenLines))]
    public void Derived_keys_match_the_golden_line(int lineNumber, string line)
    {
        var fields = line.Split(',');
        Assert.True(fields.Length == 5, $"line {lineNumber} has {fields.Length} fields");
        var dh = Convert.FromHexString(fields[0]);
        var locIsLeast = bool.Parse(fields[1]);
        var (recv, send) = SecretConnectionHandshake.DeriveSecrets(dh, locIsLeast);
        Assert.Equal(fields[2], Convert.ToHexStringLower(recv));
        Assert.Equal(fields[3], Convert.ToHexStringLower(send));
    }
}
