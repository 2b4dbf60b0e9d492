using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node;

/// <summary>Loads node_key.json for a command, turning every way the file can be wrong into one message that names it.</summary>
internal static class NodeKeys
{
    /// <summary>The key of a tool run (bench, crawl): the home's (created when missing) when one is named, else a throw-away one.</summary>
    public static NodeKey ForTool(NodeHome? home)
    {
        if (home is null)
            return NodeKey.Generate();
        Directory.CreateDirectory(home.ConfigDirectory);
        return NodeKeyFile.LoadOrGenerate(home.NodeKeyFile);
    }

    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// A warning when group or others may use the key file (mode &amp; 0o077), as CometBFT writes it 0600 and so do
    /// <c>init</c> and <see cref="NodeKeyFile.Save"/>; null when it is private or the OS has no Unix modes.
    /// </summary>
    public static string? PermissionWarning(string path)
    {
        if (OperatingSystem.IsWindows())
            return null;
        UnixFileMode mode;
        try
        {
            mode = File.GetUnixFileMode(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // it was just read; a race with a rename is not worth a second message
        }
        if ((mode & GroupOrOthers) == 0)
            return null;
        var octal = Convert.ToString((int)mode & 0b111_111_111, 8).PadLeft(3, '0');
        return $"node key file {path} has mode {octal}: group or others can use the node's private key; " +
               $"make it private with 'chmod 600 {path}'";
    }

    public static bool TryLoad(string path, [NotNullWhen(true)] out NodeKey? key, [NotNullWhen(false)] out string? error)
    {
        key = null;
        try
        {
            key = NodeKeyFile.Load(path);
            error = null;
            return true;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            error = $"node key file '{path}' does not exist (create one with 'tmactors init')";
        }
        catch (FormatException e)
        {
            // NodeKeyFile's messages already start with the file name.
            error = $"node key file {e.Message}";
        }
        catch (Exception e) when (e is InvalidOperationException or JsonException)
        {
            // JsonNode throws these when a value has the wrong JSON kind (e.g. "type": 5, or a top-level array).
            error = $"node key file '{path}' is not a node key: {e.Message}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot read node key file '{path}': {e.Message}";
        }
        return false;
    }
}
