using System.Text.Json;

namespace TendermintActors.Protocol.Tests;

/// <summary>
/// The test vectors of ../shared/vectors, read from this project's copy (so the suite runs from any checkout).
/// <see cref="VectorCopyTests"/> fails if the copy drifts from shared/ when shared/ is beside the checkout.
/// </summary>
public static class VectorFiles
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Vectors");

    public static string PathOf(string name) => Path.Combine(Directory, name);

    public static JsonElement Json(string name) => JsonDocument.Parse(File.ReadAllText(PathOf(name))).RootElement;

    public static byte[] Hex(this JsonElement element, string property) => Convert.FromHexString(element.GetProperty(property).GetString()!);

    public static string Str(this JsonElement element, string property) => element.GetProperty(property).GetString()!;

    /// <summary>../shared/vectors beside the repository root, when there.</summary>
    public static string? SharedDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TendermintActors.sln")))
            {
                var shared = Path.Combine(dir.FullName, "..", "shared", "vectors");
                return System.IO.Directory.Exists(shared) ? Path.GetFullPath(shared) : null;
            }
        }
        return null;
    }

    public static JsonElement Handshakes => Json("tendermint-v0.34.24-vectors.json").GetProperty("handshakes");

    public static IEnumerable<object[]> HandshakeSides()
    {
        foreach (var hs in Handshakes.EnumerateArray())
            foreach (var side in new[] { "a", "b" })
                yield return [hs.Str("name"), side];
    }

    public static (JsonElement Case, JsonElement Side, JsonElement Other) Side(string caseName, string side)
    {
        foreach (var hs in Handshakes.EnumerateArray())
            if (hs.Str("name") == caseName)
                return (hs, hs.GetProperty(side), hs.GetProperty(side == "a" ? "b" : "a"));
        throw new ArgumentException($"no handshake case {caseName}");
    }
}

public class VectorCopyTests
{
    [Fact]
    public void Copied_vectors_match_shared_vectors_when_shared_is_present()
    {
        var shared = VectorFiles.SharedDirectory();
        if (shared is null) return; // a checkout without shared/ beside it only has the copy
        foreach (var file in System.IO.Directory.GetFiles(shared))
        {
            var copy = VectorFiles.PathOf(Path.GetFileName(file));
            Assert.True(File.Exists(copy), $"{Path.GetFileName(file)} is in shared/vectors but not copied into the test project");
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(copy));
        }
    }

    [Fact]
    public void Every_vector_file_is_present()
    {
        foreach (var name in new[] { "derive-secrets.golden", "merlin.json", "tendermint-v0.34.24-vectors.json" })
            Assert.True(File.Exists(VectorFiles.PathOf(name)), name);
        Assert.Equal(4, VectorFiles.Handshakes.GetArrayLength());
    }
}
