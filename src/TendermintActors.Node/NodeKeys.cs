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
