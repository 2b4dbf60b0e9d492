using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// Runtime settings that .NET reads only from the process's environment, never from <c>tmactors.runtimeconfig.json</c>,
/// given to the node by the process re-executing itself once, first thing (docs/performance.md, "GC and runtime
/// settings"). Today one: tiered compilation's call-count threshold, 4096 calls instead of the runtime's 30, so that
/// code run once per connection (handshakes, a peer's start) is not compiled three times over when hundreds of peers
/// connect at once, while the data path, called thousands of times a second under load, is still optimised within a
/// second.
/// <para>
/// On Linux a long-running command (<see cref="LongRunningCommands"/>) whose environment lacks the setting calls
/// <c>execve</c> on its own executable with the same arguments and the same environment plus the setting and
/// <see cref="MarkerVariable"/>: the same process (its PID, its open standard streams, its parent) runs the program
/// again from the start, now with the setting. An operator's own value of the variable stands (the runtime's
/// default is <c>1E</c>, hex); so does a process a debugger or a diagnostic tool started, which would lose track of it.
/// </para>
/// </summary>
internal static class RuntimeSettings
{
    /// <summary>The runtime's variable for the call-count threshold; its value is read as hexadecimal.</summary>
    public const string CallCountThresholdVariable = "DOTNET_TC_CallCountThreshold";

    /// <summary>The same setting under the runtime's older prefix, which it still reads.</summary>
    public const string LegacyCallCountThresholdVariable = "COMPlus_TC_CallCountThreshold";

    /// <summary>4096 calls, as the runtime reads it (hexadecimal).</summary>
    public const string CallCountThreshold = "1000";

    /// <summary>Set together with the settings: tells the program run again that it was, and is never run a third time.</summary>
    public const string MarkerVariable = "TMACTORS_RUNTIME_SETTINGS";

    /// <summary>The marker's value.</summary>
    public const string MarkerValue = "applied";

    /// <summary>Commands that hold connections for long, for which a second start (~0.1 s) is worth it.</summary>
    public static readonly IReadOnlySet<string> LongRunningCommands = new HashSet<string>(StringComparer.Ordinal)
        { "start", "localnet", "bench", "crawl" };

    /// <summary>How the process came by its settings.</summary>
    public enum Outcome
    {
        /// <summary>The process re-executed itself with the settings (this is the program's second run).</summary>
        Applied,
        /// <summary>The operator set the call-count threshold in the environment; theirs stands.</summary>
        OperatorsSetting,
        /// <summary>A short command: the runtime's defaults.</summary>
        NotNeeded,
        /// <summary>Started by a debugger or a diagnostic tool (<c>DOTNET_DiagnosticPorts</c>), which would lose track of a re-executed process.</summary>
        UnderTool,
        /// <summary>Not Linux: the runtime's defaults.</summary>
        NotAvailable,
        /// <summary><c>execve</c> failed; the process carries on with the runtime's defaults.</summary>
        Failed,
        /// <summary>The settings are due: <see cref="ApplyAtStart"/> re-executes the process.</summary>
        ReExecute,
        /// <summary>A natively compiled tmactors: no JIT, so no call counting to set.</summary>
        NativeCode,
    }

    /// <summary>What the process's call to <see cref="ApplyAtStart"/> found, for the start's log; null when not called.</summary>
    public static Outcome? AtStart { get; private set; }

    /// <summary>The error number of a failed <c>execve</c>, for the start's log.</summary>
    public static int FailedWith { get; private set; }

    /// <summary>The decision, from the command line and the environment alone.</summary>
    public static Outcome Decide(IReadOnlyList<string> args, Func<string, string?> environment, bool isLinux, bool debuggerAttached,
        bool compilesCode = true)
    {
        if (!compilesCode)
            return Outcome.NativeCode;
        var marked = environment(MarkerVariable) == MarkerValue;
        if (!string.IsNullOrEmpty(environment(CallCountThresholdVariable)) || !string.IsNullOrEmpty(environment(LegacyCallCountThresholdVariable)))
            return marked ? Outcome.Applied : Outcome.OperatorsSetting;
        if (marked)
            return Outcome.NotNeeded; // the marker without the setting: never a third run
        if (CommandOf(args) is not { } command || !LongRunningCommands.Contains(command))
            return Outcome.NotNeeded;
        if (!isLinux)
            return Outcome.NotAvailable;
        if (debuggerAttached || !string.IsNullOrEmpty(environment("DOTNET_DiagnosticPorts")) || !string.IsNullOrEmpty(environment("COMPlus_DiagnosticPorts")))
            return Outcome.UnderTool;
        return Outcome.ReExecute;
    }

    /// <summary>
    /// The command's name: the first argument that is not an option, skipping the value of <c>--home</c>, the only
    /// option with a value that the command line accepts before the command.
    /// </summary>
    public static string? CommandOf(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--home")
            {
                i++;
                continue;
            }
            if (!args[i].StartsWith('-'))
                return args[i];
        }
        return null;
    }

    /// <summary>
    /// The environment for the second run: every entry of <paramref name="environ"/> (the process's initial
    /// environment as the kernel holds it, <c>NAME=value</c> entries each ended by a NUL byte), byte for byte, then
    /// the settings and the marker. An empty entry of the same name is left out: the first entry of a name is the one
    /// that counts.
    /// </summary>
    public static IReadOnlyList<byte[]> EnvironmentWithSettings(ReadOnlySpan<byte> environ)
    {
        byte[][] added =
        [
            Encoding.ASCII.GetBytes($"{CallCountThresholdVariable}={CallCountThreshold}"),
            Encoding.ASCII.GetBytes($"{MarkerVariable}={MarkerValue}"),
        ];
        var entries = SplitNulTerminated(environ);
        entries.RemoveAll(entry => added.Any(a => entry.AsSpan().StartsWith(a.AsSpan(0, Array.IndexOf(a, (byte)'=') + 1))));
        entries.AddRange(added);
        return entries;
    }

    /// <summary>NUL-terminated entries (as in <c>/proc/self/cmdline</c> and <c>/proc/self/environ</c>), each without its NUL.</summary>
    public static List<byte[]> SplitNulTerminated(ReadOnlySpan<byte> block)
    {
        var entries = new List<byte[]>();
        while (!block.IsEmpty)
        {
            var end = block.IndexOf((byte)0);
            if (end < 0)
                end = block.Length;
            entries.Add(block[..end].ToArray());
            block = end < block.Length ? block[(end + 1)..] : [];
        }
        return entries;
    }

    /// <summary>
    /// Called first thing in the node's process: re-executes it with the settings when they are due; returns only
    /// when they are not (or <c>execve</c> failed), with what it found.
    /// </summary>
    public static Outcome ApplyAtStart(string[] args)
    {
        var outcome = Decide(args, Environment.GetEnvironmentVariable, OperatingSystem.IsLinux(), Debugger.IsAttached,
            System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled);
        if (outcome == Outcome.ReExecute)
        {
            FailedWith = ReExecute();
            outcome = Outcome.Failed;
        }
        AtStart = outcome;
        return outcome;
    }

    /// <summary>One log line's text for <paramref name="outcome"/>.</summary>
    public static string Describe(Outcome outcome, int failedWith = 0) => outcome switch
    {
        Outcome.Applied => $"runtime settings: {CallCountThresholdVariable}={CallCountThreshold} (4096 calls before a method is optimised), applied by re-executing the process at start",
        Outcome.OperatorsSetting => $"runtime settings: {CallCountThresholdVariable} is set in the environment; left as it is",
        Outcome.UnderTool => "runtime settings: started by a debugger or a diagnostic tool, so not re-executed; the runtime's defaults apply",
        Outcome.NotAvailable => "runtime settings: not Linux; the runtime's defaults apply",
        Outcome.NativeCode => "runtime settings: natively compiled, so there is no JIT to configure",
        Outcome.Failed => $"runtime settings: re-executing the process failed (errno {failedWith}); the runtime's defaults apply",
        _ => "runtime settings: the runtime's defaults",
    };

    /// <summary>
    /// <c>execve("/proc/self/exe", argv, environ + settings)</c> with the arguments and environment the process
    /// started with, read byte for byte from /proc; returns the error number only if it fails.
    /// </summary>
    private static int ReExecute()
    {
        byte[] cmdline, environ;
        try
        {
            cmdline = File.ReadAllBytes("/proc/self/cmdline");
            environ = File.ReadAllBytes("/proc/self/environ");
        }
        catch (IOException)
        {
            return 2; // ENOENT: no /proc
        }
        catch (UnauthorizedAccessException)
        {
            return 13; // EACCES
        }
        var argv = SplitNulTerminated(cmdline);
        var envp = EnvironmentWithSettings(environ);
        ReleaseDiagnosticsEndpoint();
        var blocks = new List<IntPtr>();
        try
        {
            var argvBlock = NullTerminatedArray(argv, blocks);
            var envpBlock = NullTerminatedArray(envp, blocks);
            Execve("/proc/self/exe", argvBlock, envpBlock);
            return Marshal.GetLastPInvokeError();
        }
        finally
        {
            foreach (var block in blocks)
                Marshal.FreeHGlobal(block);
        }
    }

    /// <summary>
    /// The runtime's diagnostics server (what dotnet-counters, dotnet-trace and dotnet-gcdump connect to) listens on
    /// a socket file named after the process's ID and start time, both of which the second run keeps. Its listening
    /// descriptor closes on <c>execve</c> but the file stays, and the second run could not bind the name again:
    /// remove it, so that the second run's server takes its place.
    /// </summary>
    private static void ReleaseDiagnosticsEndpoint()
    {
        try
        {
            // The runtime names it in $TMPDIR, else /tmp: where Path.GetTempPath looks too.
            foreach (var socket in Directory.EnumerateFiles(Path.GetTempPath(), $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"))
                File.Delete(socket);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Without it the second run has no diagnostics server; the node itself is unaffected.
        }
    }

    private static IntPtr NullTerminatedArray(IReadOnlyList<byte[]> entries, List<IntPtr> blocks)
    {
        var array = Marshal.AllocHGlobal(IntPtr.Size * (entries.Count + 1));
        blocks.Add(array);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = Marshal.AllocHGlobal(entries[i].Length + 1);
            blocks.Add(entry);
            Marshal.Copy(entries[i], 0, entry, entries[i].Length);
            Marshal.WriteByte(entry, entries[i].Length, 0);
            Marshal.WriteIntPtr(array, i * IntPtr.Size, entry);
        }
        Marshal.WriteIntPtr(array, entries.Count * IntPtr.Size, IntPtr.Zero);
        return array;
    }

    [DllImport("libc", EntryPoint = "execve", SetLastError = true)]
    private static extern int Execve([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr argv, IntPtr envp);
}
