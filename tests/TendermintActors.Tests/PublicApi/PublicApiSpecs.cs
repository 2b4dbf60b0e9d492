extern alias p2ptestkit;

using System.Runtime.CompilerServices;
using PublicApiGenerator;

namespace TendermintActors.Tests.PublicApi;

/// <summary>
/// The shipped assemblies' public surface, approved: a change to it fails here until the approved file is updated
/// on purpose. On a mismatch the new surface is written beside the approved file as <c>*.received.txt</c>; review it
/// and copy it over the approved file to accept.
/// </summary>
public class PublicApiSpecs
{
    public static IEnumerable<object[]> Assemblies() =>
    [
        [typeof(TendermintActors.Switching.Switch).Assembly.GetName().Name!],
        [typeof(TendermintActors.Protocol.Identity.NodeKey).Assembly.GetName().Name!],
        [typeof(p2ptestkit::TendermintActors.TestKit.P2PTestKit).Assembly.GetName().Name!],
    ];

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Public_api_is_approved(string assemblyName)
    {
        var assembly = AppDomain.CurrentDomain.GetAssemblies().Single(a => a.GetName().Name == assemblyName);
        var api = assembly.GeneratePublicApi(new ApiGeneratorOptions
        {
            ExcludeAttributes = ["System.Runtime.Versioning.TargetFrameworkAttribute", "System.Reflection.AssemblyMetadataAttribute"],
        }).ReplaceLineEndings("\n");
        var approvedPath = Path.Combine(SourceDirectory(), $"{assemblyName}.approved.txt");
        var approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath).ReplaceLineEndings("\n") : "";
        if (approved != api)
        {
            File.WriteAllText(Path.Combine(SourceDirectory(), $"{assemblyName}.received.txt"), api);
            Assert.Fail($"The public API of {assemblyName} changed. Review {assemblyName}.received.txt in tests/TendermintActors.Tests/PublicApi and copy it over the .approved.txt file if the change is intended.");
        }
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
