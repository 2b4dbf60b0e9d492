using TendermintActors.Protocol.SecretConnection;

namespace TendermintActors.Node.Tests;

/// <summary>
/// The frame cipher's environment variable is read once per process, so these check the gate with the choice passed
/// in; changing the real variable here would change every other test's connections.
/// </summary>
public sealed class CliEnvironmentTests
{
    [Fact]
    public void A_bad_frame_cipher_setting_stops_every_command_naming_the_variable()
    {
        var stderr = new StringWriter();

        var ok = Cli.CheckEnvironment(stderr, () => throw new InvalidOperationException(
            $"{FrameCiphers.Variable}='aes' is not a frame cipher: use adaptive, openssl, sodium, nsec or bcl (or leave it unset)"));

        Assert.False(ok);
        Assert.Contains("tmactors: TENDERMINTACTORS_FRAME_CIPHER='aes' is not a frame cipher", stderr.ToString());
    }

    [Fact]
    public void A_good_or_absent_setting_lets_commands_run()
    {
        var stderr = new StringWriter();

        Assert.True(Cli.CheckEnvironment(stderr, () => FrameCiphers.Default));
        Assert.Empty(stderr.ToString());
    }
}
