using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Runtime;

/// <summary>
/// The re-execution itself, in a real process (<see cref="RuntimeSettingsProbe"/>, this test assembly run as a
/// program): the same process runs the program again with the setting, its arguments and environment unchanged, and
/// the runtime's diagnostics server still answers.
/// </summary>
public sealed class RuntimeSettingsSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Not ASCII, so that a copy of the environment that went through a lossy decoding would show.
    private const string ProbeVariable = "TMACTORS_PROBE_TEXT";
    private const string ProbeValue = "ümlaut and 雪";

    [Fact]
    public async Task A_long_running_command_runs_again_in_the_same_process_with_the_setting()
    {
        if (!OperatingSystem.IsLinux())
            return; // elsewhere the decision is NotAvailable (RuntimeSettingsTests); there is nothing to run
        using var probe = Probe.Launch(["start", "--rpc.laddr", "", "--home", "/nonexistent"]);

        var pid = probe.Process.Id;
        Assert.Equal($"run {pid} -", await probe.ReadLine());
        Assert.Equal($"run {pid} {RuntimeSettings.MarkerValue}", await probe.ReadLine());
        Assert.Equal($"outcome {RuntimeSettings.Outcome.Applied} {RuntimeSettings.CallCountThreshold}", await probe.ReadLine());

        var environ = RuntimeSettings.SplitNulTerminated(await File.ReadAllBytesAsync($"/proc/{pid}/environ")).Select(Encoding.UTF8.GetString).ToList();
        Assert.Contains($"{ProbeVariable}={ProbeValue}", environ);
        Assert.Equal([$"{RuntimeSettings.CallCountThresholdVariable}={RuntimeSettings.CallCountThreshold}", $"{RuntimeSettings.MarkerVariable}={RuntimeSettings.MarkerValue}"],
            environ.TakeLast(2));
        var cmdline = RuntimeSettings.SplitNulTerminated(await File.ReadAllBytesAsync($"/proc/{pid}/cmdline")).Select(Encoding.UTF8.GetString).ToList();
        Assert.Equal([RuntimeSettingsProbe.Command, "start", "--rpc.laddr", "", "--home", "/nonexistent"], cmdline.TakeLast(6));

        // The first run's socket file is gone and the second run's server listens under the same name.
        var socket = Assert.Single(Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{pid}-*-socket"));
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(socket));
    }

    [Fact]
    public async Task An_operators_setting_stands_and_the_program_runs_once()
    {
        using var probe = Probe.Launch(["start"], (RuntimeSettings.CallCountThresholdVariable, "1E"));

        Assert.Equal($"run {probe.Process.Id} -", await probe.ReadLine());
        Assert.Equal($"outcome {RuntimeSettings.Outcome.OperatorsSetting} 1E", await probe.ReadLine());
        Assert.Null(await probe.ReadLineOrEnd(close: true));
    }

    [Fact]
    public async Task A_short_command_runs_once_with_the_runtimes_defaults()
    {
        using var probe = Probe.Launch(["init", "--home", "/nonexistent"]);

        Assert.Equal($"run {probe.Process.Id} -", await probe.ReadLine());
        Assert.Equal($"outcome {RuntimeSettings.Outcome.NotNeeded} -", await probe.ReadLine());
        Assert.Null(await probe.ReadLineOrEnd(close: true));
    }

    private sealed class Probe : IDisposable
    {
        public Process Process { get; }

        private Probe(Process process) => Process = process;

        public static Probe Launch(IReadOnlyList<string> args, params (string Name, string Value)[] environment)
        {
            var info = new ProcessStartInfo(ChildProcesses.DotnetHost())
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(typeof(RuntimeSettingsProbe).Assembly.Location);
            info.ArgumentList.Add(RuntimeSettingsProbe.Command);
            foreach (var arg in args)
                info.ArgumentList.Add(arg);
            // What the test host runs with must not decide for the probe.
            foreach (var name in new[] { RuntimeSettings.CallCountThresholdVariable, RuntimeSettings.LegacyCallCountThresholdVariable,
                         RuntimeSettings.MarkerVariable, "DOTNET_DiagnosticPorts", "COMPlus_DiagnosticPorts" })
                info.Environment.Remove(name);
            info.Environment[ProbeVariable] = ProbeValue;
            foreach (var (name, value) in environment)
                info.Environment[name] = value;
            return new Probe(Process.Start(info)!);
        }

        public async Task<string> ReadLine() =>
            await ReadLineOrEnd(close: false) ?? throw new Xunit.Sdk.XunitException($"the probe ended; stderr:\n{await Process.StandardError.ReadToEndAsync()}");

        /// <summary>The next line, or null at the end of its output; with <paramref name="close"/> its stdin is closed first.</summary>
        public async Task<string?> ReadLineOrEnd(bool close)
        {
            if (close)
                Process.StandardInput.Close();
            using var cancel = new CancellationTokenSource(Timeout);
            return await Process.StandardOutput.ReadLineAsync(cancel.Token);
        }

        public void Dispose() => ChildProcesses.KillAndDispose(Process);
    }
}
