using System.CommandLine;
using TendermintActors.Node.Commands;

namespace TendermintActors.Node;

/// <summary>
/// The <c>tmactors</c> command tree. Each command lives in its own class under Commands/ and writes only to the
/// writers it is given, so tests run the whole command line in-process.
/// </summary>
internal static class Cli
{
    /// <summary>Exit code of a command that failed for a reason it reported on stderr.</summary>
    public const int Failure = 1;

    public static RootCommand Build()
    {
        // Recursive, as Go's persistent --home flag: accepted before or after the command name.
        var home = new Option<string>("--home")
        {
            Description = "The node's home directory (config/ lives under it; default $CMTHOME, else $TMHOME, else ~/.tmactors)",
            HelpName = "DIR",
            Recursive = true,
            DefaultValueFactory = _ => NodeHome.Default(Environment.GetEnvironmentVariable("CMTHOME"), Environment.GetEnvironmentVariable("TMHOME"),
                Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)),
        };
        var root = new RootCommand("tmactors: a Tendermint/CometBFT P2P node on Akka.NET");
        root.Options.Add(home);
        root.Subcommands.Add(InitCommand.Create(home));
        root.Subcommands.Add(ShowNodeIdCommand.Create(home));
        root.Subcommands.Add(StartCommand.Create(home));
        root.Subcommands.Add(LocalnetCommand.Create());
        root.Subcommands.Add(BenchCommand.Create(home));
        root.Subcommands.Add(CrawlCommand.Create(home));
        root.Subcommands.Add(ConfigCommand.Create(home));
        return root;
    }

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (!CheckEnvironment(stderr, () => Protocol.SecretConnection.FrameCiphers.Default))
            return Failure;
        return Build().Parse(args).Invoke(new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // Long-running commands handle Ctrl-C/SIGTERM themselves (ShutdownSignals) to shut down through
            // CoordinatedShutdown; the library's handling would end the process after a fixed timeout instead.
            ProcessTerminationTimeout = null,
        });
    }

    /// <summary>
    /// Process-wide settings outside HOCON (today the frame cipher's environment variable): a bad value is refused
    /// before any command runs, naming the variable, rather than failing every connection later.
    /// </summary>
    internal static bool CheckEnvironment(TextWriter stderr, Func<Protocol.SecretConnection.FrameCipherImplementation> frameCipher)
    {
        try
        {
            _ = frameCipher();
            return true;
        }
        catch (InvalidOperationException e)
        {
            stderr.WriteLine($"tmactors: {e.Message}");
            return false;
        }
    }
}
