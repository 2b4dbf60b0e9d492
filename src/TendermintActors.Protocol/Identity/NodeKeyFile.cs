using System.Text.Json;
using System.Text.Json.Nodes;

namespace TendermintActors.Protocol.Identity;

/// <summary>
/// node_key.json in Tendermint/CometBFT's exact format:
/// <c>{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"&lt;base64 of 64 bytes&gt;"}}</c>.
/// Written atomically (temp file in the same folder, then rename) with owner-only permissions.
/// </summary>
public static class NodeKeyFile
{
    public const string Ed25519Type = "tendermint/PrivKeyEd25519";

    public static NodeKey Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"node key file '{path}' does not exist (create one with 'tmactors init')", path, e);
        }
        return Parse(text, path);
    }

    /// <summary>Parses the JSON text; <paramref name="source"/> names the file in error messages.</summary>
    public static NodeKey Parse(string json, string source = "node_key.json")
    {
        JsonNode? root;
        try
        {
            // A key given twice would otherwise surface as an ArgumentException at the first lookup.
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not valid JSON ({e.Message})", e);
        }
        if (root is not JsonObject obj || obj["priv_key"] is not JsonObject privKey)
            throw new FormatException($"{source}: expected an object with a \"priv_key\" object");
        var type = StringOf(privKey["type"]);
        if (type != Ed25519Type)
            throw new FormatException($"{source}: priv_key.type is '{type}', only '{Ed25519Type}' is supported");
        var value = StringOf(privKey["value"]) ?? throw new FormatException($"{source}: priv_key.value is missing or not a string");
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(value);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{source}: priv_key.value is not base64", e);
        }
        try
        {
            return NodeKey.FromGoPrivateKey(bytes);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{source}: priv_key.value: {e.Message}", e);
        }
    }

    private static string? StringOf(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>The JSON text Go writes (same key order, no extra whitespace).</summary>
    public static string Format(NodeKey key) =>
        "{\"priv_key\":{\"type\":\"" + Ed25519Type + "\",\"value\":\"" + Convert.ToBase64String(key.ToGoPrivateKey()) + "\"}}";

    /// <summary>
    /// Writes the key atomically with mode 0600. Refuses to replace an existing file unless <paramref name="overwrite"/>.
    /// </summary>
    public static void Save(NodeKey key, string path, bool overwrite = false)
    {
        if (!overwrite && File.Exists(path))
            throw new IOException($"node key file '{path}' already exists; refusing to overwrite it");
        AtomicFile.WriteAllText(path, Format(key), ownerOnly: true);
    }

    /// <summary>Loads the key at <paramref name="path"/>, or generates and saves one when there is none.</summary>
    public static NodeKey LoadOrGenerate(string path)
    {
        if (File.Exists(path))
            return Load(path);
        var key = NodeKey.Generate();
        Save(key, path);
        return key;
    }
}
