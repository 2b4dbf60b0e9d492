using System.Diagnostics;

namespace TendermintActors.Node.Tests;

/// <summary>What the specs that run a child process share.</summary>
internal static class ChildProcesses
{
    /// <summary>The dotnet host to run a child with: the one running the tests, else the one on the PATH.</summary>
    public static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
            return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet")
            return self;
        return "dotnet";
    }

    /// <summary>Kills the child and its children if it still runs, then releases it.</summary>
    public static void KillAndDispose(Process process)
    {
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
