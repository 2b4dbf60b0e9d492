using TendermintActors.Node;

namespace TendermintActors.Node.Tests;

/// <summary>A node home in a fresh temp directory, deleted afterwards.</summary>
public sealed class TempHome : IDisposable
{
    private readonly string _parent = Directory.CreateTempSubdirectory("tmactors-test-").FullName;

    public TempHome() => Root = Path.Combine(_parent, "home");

    /// <summary>Not created yet: init must create it.</summary>
    public string Root { get; }

    internal NodeHome Home => NodeHome.At(Root);

    public string NodeKeyFile => Home.NodeKeyFile;

    public string NodeConfFile => Home.NodeConfFile;

    public void WriteNodeKeyFile(string contents)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(NodeKeyFile)!);
        File.WriteAllText(NodeKeyFile, contents);
    }

    public void Dispose() => Directory.Delete(_parent, recursive: true);
}

/// <summary>One run of the command line, in-process, with what it printed.</summary>
public sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    public static CliRun Of(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Cli.Run(args, stdout, stderr);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public string LastLine => StdoutLines[^1];
}
