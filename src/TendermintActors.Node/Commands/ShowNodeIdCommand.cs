using System.CommandLine;

namespace TendermintActors.Node.Commands;

/// <summary><c>tmactors show-node-id</c>: prints the ID of the home's node key, as Go's command of the same name does.</summary>
internal static class ShowNodeIdCommand
{
    public static Command Create(Option<string> home)
    {
        var command = new Command("show-node-id", "Print this node's ID (40 lowercase hex characters)");
        command.SetAction(parse => Run(
            NodeHome.At(parse.GetValue(home)!),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(NodeHome home, TextWriter stdout, TextWriter stderr)
    {
        if (!NodeKeys.TryLoad(home.NodeKeyFile, out var key, out var error))
        {
            stderr.WriteLine($"tmactors show-node-id: {error}");
            return Cli.Failure;
        }
        using (key)
            stdout.WriteLine(key.Id.Hex);
        return 0;
    }
}
