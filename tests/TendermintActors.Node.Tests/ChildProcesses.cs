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

    /// <summary>The repository's root: the directory above the test's output that holds TendermintActors.sln.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TendermintActors.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no TendermintActors.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// Removes the MSBuild settings a child dotnet build would inherit: the test host may run inside an MSBuild
    /// invocation (dotnet test), and its settings are not for that build.
    /// </summary>
    public static void WithoutMSBuildSettings(ProcessStartInfo start)
    {
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
    }

    /// <summary>Kills the child and its children if it still runs, then releases it.</summary>
    public static void KillAndDispose(Process process)
    {
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
