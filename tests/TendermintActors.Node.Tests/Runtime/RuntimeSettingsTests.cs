using System.Text;
using TendermintActors.Node.Runtime;
using Outcome = TendermintActors.Node.Runtime.RuntimeSettings.Outcome;

namespace TendermintActors.Node.Tests.Runtime;

/// <summary>The decision to re-execute the node with environment-only runtime settings, and the bytes it passes on.</summary>
public sealed class RuntimeSettingsTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Theory]
    [InlineData(new[] { "start" }, "start")]
    [InlineData(new[] { "start", "--home", "/h" }, "start")]
    [InlineData(new[] { "--home", "/h", "bench", "peers" }, "bench")]
    [InlineData(new[] { "--home", "start", "init" }, "init")] // a home directory named like a command
    [InlineData(new[] { "--help" }, null)]
    [InlineData(new[] { "--home" }, null)]
    [InlineData(new string[0], null)]
    public void The_command_is_the_first_argument_that_is_not_an_option_or_the_homes_value(string[] args, string? command) =>
        Assert.Equal(command, RuntimeSettings.CommandOf(args));

    [Fact]
    public void A_long_running_command_on_linux_without_the_setting_is_re_executed()
    {
        foreach (var command in new[] { "start", "localnet", "bench", "crawl" })
            Assert.Equal(Outcome.ReExecute, RuntimeSettings.Decide([command], Env(), isLinux: true, debuggerAttached: false));
    }

    [Theory]
    [InlineData("init")]
    [InlineData("show-node-id")]
    [InlineData("config")]
    [InlineData("--version")]
    public void A_short_command_keeps_the_runtimes_defaults(string arg) =>
        Assert.Equal(Outcome.NotNeeded, RuntimeSettings.Decide([arg], Env(), isLinux: true, debuggerAttached: false));

    [Theory]
    [InlineData(RuntimeSettings.CallCountThresholdVariable)]
    [InlineData(RuntimeSettings.LegacyCallCountThresholdVariable)]
    public void An_operators_own_threshold_stands(string variable) =>
        Assert.Equal(Outcome.OperatorsSetting, RuntimeSettings.Decide(["start"], Env((variable, "1E")), isLinux: true, debuggerAttached: false));

    [Fact]
    public void The_second_run_knows_it_was_re_executed_and_a_marker_without_the_setting_never_runs_a_third_time()
    {
        Assert.Equal(Outcome.Applied, RuntimeSettings.Decide(["start"],
            Env((RuntimeSettings.CallCountThresholdVariable, RuntimeSettings.CallCountThreshold), (RuntimeSettings.MarkerVariable, RuntimeSettings.MarkerValue)),
            isLinux: true, debuggerAttached: false));
        Assert.Equal(Outcome.NotNeeded, RuntimeSettings.Decide(["start"], Env((RuntimeSettings.MarkerVariable, RuntimeSettings.MarkerValue)),
            isLinux: true, debuggerAttached: false));
    }

    [Fact]
    public void A_process_a_debugger_or_a_diagnostic_tool_started_is_left_alone()
    {
        Assert.Equal(Outcome.UnderTool, RuntimeSettings.Decide(["start"], Env(), isLinux: true, debuggerAttached: true));
        Assert.Equal(Outcome.UnderTool, RuntimeSettings.Decide(["start"], Env(("DOTNET_DiagnosticPorts", "/tmp/port,suspend")), isLinux: true, debuggerAttached: false));
    }

    [Fact]
    public void Not_linux_keeps_the_runtimes_defaults() =>
        Assert.Equal(Outcome.NotAvailable, RuntimeSettings.Decide(["start"], Env(), isLinux: false, debuggerAttached: false));

    [Fact]
    public void Nul_terminated_entries_keep_empty_arguments_and_a_last_entry_without_its_nul()
    {
        static string[] Split(string block) =>
            RuntimeSettings.SplitNulTerminated(Encoding.UTF8.GetBytes(block)).Select(e => Encoding.UTF8.GetString(e)).ToArray();

        Assert.Empty(Split(""));
        Assert.Equal(["start"], Split("start\0"));
        // `--rpc.laddr ""`, as /proc/self/cmdline holds it: the empty value is an argument of its own.
        Assert.Equal(["dotnet", "tmactors.dll", "--rpc.laddr", "", "--p2p.pex"], Split("dotnet\0tmactors.dll\0--rpc.laddr\0\0--p2p.pex\0"));
        Assert.Equal(["a", "b"], Split("a\0b"));
    }

    [Fact]
    public void A_natively_compiled_tmactors_is_never_re_executed_since_it_has_no_JIT_to_configure()
    {
        Assert.Equal(Outcome.NativeCode, RuntimeSettings.Decide(["start"], Env(), isLinux: true, debuggerAttached: false, compilesCode: false));
        Assert.Equal(Outcome.NativeCode, RuntimeSettings.Decide(["start"], Env((RuntimeSettings.CallCountThresholdVariable, "1E")),
            isLinux: true, debuggerAttached: false, compilesCode: false));
        Assert.Contains("natively compiled", RuntimeSettings.Describe(Outcome.NativeCode));
    }

    [Fact]
    public void The_second_runs_environment_is_the_first_ones_byte_for_byte_then_the_setting_and_the_marker()
    {
        byte[] notUtf8 = [.. "LANG_BYTES="u8, 0xff, 0xfe, 0x80];
        byte[] environ = [.. "PATH=/usr/bin"u8, 0, .. notUtf8, 0, .. "EMPTY="u8, 0];

        var entries = RuntimeSettings.EnvironmentWithSettings(environ);

        Assert.Equal(5, entries.Count);
        Assert.Equal("PATH=/usr/bin"u8.ToArray(), entries[0]);
        Assert.Equal(notUtf8, entries[1]);
        Assert.Equal("EMPTY="u8.ToArray(), entries[2]);
        Assert.Equal($"{RuntimeSettings.CallCountThresholdVariable}={RuntimeSettings.CallCountThreshold}", Encoding.ASCII.GetString(entries[3]));
        Assert.Equal($"{RuntimeSettings.MarkerVariable}={RuntimeSettings.MarkerValue}", Encoding.ASCII.GetString(entries[4]));
    }

    [Fact]
    public void An_empty_entry_of_the_settings_name_is_replaced_not_shadowing_the_one_added()
    {
        byte[] environ = [.. "DOTNET_TC_CallCountThreshold="u8, 0, .. "DOTNET_TC_CallCountThresholdX=1"u8, 0, .. "TMACTORS_RUNTIME_SETTINGS="u8, 0];

        var entries = RuntimeSettings.EnvironmentWithSettings(environ).Select(e => Encoding.ASCII.GetString(e)).ToArray();

        Assert.Equal(["DOTNET_TC_CallCountThresholdX=1", "DOTNET_TC_CallCountThreshold=1000", "TMACTORS_RUNTIME_SETTINGS=applied"], entries);
    }

    [Fact]
    public void Each_outcome_says_what_applies()
    {
        Assert.Contains("DOTNET_TC_CallCountThreshold=1000", RuntimeSettings.Describe(Outcome.Applied));
        Assert.Contains("4096", RuntimeSettings.Describe(Outcome.Applied));
        Assert.Contains("set in the environment", RuntimeSettings.Describe(Outcome.OperatorsSetting));
        Assert.Contains("errno 7", RuntimeSettings.Describe(Outcome.Failed, failedWith: 7));
        Assert.Contains("debugger", RuntimeSettings.Describe(Outcome.UnderTool));
        Assert.Contains("not Linux", RuntimeSettings.Describe(Outcome.NotAvailable));
    }
}
