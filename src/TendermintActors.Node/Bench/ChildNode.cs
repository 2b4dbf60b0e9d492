using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TendermintActors.Node.Bench;

/// <summary>The end of a node a benchmark ran as a child process on a throw-away home.</summary>
internal static class ChildNode
{
    /// <summary>
    /// Stops <paramref name="process"/> (after <paramref name="askToStop"/>, if given, with its own grace; then SIGTERM,
    /// as an operator would; then SIGKILL), disposes it and deletes <paramref name="home"/>.
    /// </summary>
    public static async Task StopAsync(Process process, string home, Action? askToStop = null)
    {
        try
        {
            if (!process.HasExited)
            {
                if (askToStop is null || !await AskedToStop(process, askToStop))
                {
                    _ = kill(process.Id, Sigterm);
                    if (!await Exited(process, TimeSpan.FromSeconds(askToStop is null ? 15 : 10)))
                    {
                        process.Kill(entireProcessTree: true);
                        await process.WaitForExitAsync();
                    }
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        process.Dispose();
        try
        {
            Directory.Delete(home, recursive: true);
        }
        catch (IOException)
        {
            // A throw-away directory under the temporary folder; leaving it is harmless.
        }
    }

    private static async Task<bool> AskedToStop(Process process, Action askToStop)
    {
        askToStop();
        return await Exited(process, TimeSpan.FromSeconds(15));
    }

    private static async Task<bool> Exited(Process process, TimeSpan grace)
    {
        try
        {
            await process.WaitForExitAsync().WaitAsync(grace);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private const int Sigterm = 15;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
