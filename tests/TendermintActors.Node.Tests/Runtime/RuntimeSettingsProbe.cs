using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Runtime;

/// <summary>
/// The child process of <see cref="RuntimeSettingsSpecs"/>: does what the node's <c>Program.cs</c> does first
/// (<see cref="RuntimeSettings.ApplyAtStart"/> with the arguments after its own command) and reports each run of
/// itself on stdout, then waits for its stdin to close.
/// </summary>
internal static class RuntimeSettingsProbe
{
    public const string Command = "runtime-settings-probe";

    public static int Run(string[] args)
    {
        // Printed by every run of the program in this process: the first, and the second after a re-execution.
        Console.Out.WriteLine($"run {Environment.ProcessId} {Environment.GetEnvironmentVariable(RuntimeSettings.MarkerVariable) ?? "-"}");
        Console.Out.Flush();
        var outcome = RuntimeSettings.ApplyAtStart(args);
        Console.Out.WriteLine($"outcome {outcome} {Environment.GetEnvironmentVariable(RuntimeSettings.CallCountThresholdVariable) ?? "-"}");
        Console.Out.Flush();
        Console.In.ReadToEnd(); // until the spec closes our stdin (or dies)
        return 0;
    }
}
