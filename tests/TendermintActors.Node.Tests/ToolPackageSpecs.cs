using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;

namespace TendermintActors.Node.Tests;

/// <summary>
/// The node packs as a .NET tool named <c>tmactors</c>. The pack runs the real <c>dotnet pack</c> (Release) with
/// <c>--artifacts-path</c> in a temp directory: every project in the graph then restores, builds and packs under that
/// directory, so the run neither reads nor writes the bin/ and obj/ that <c>dotnet test</c> (or a developer's build)
/// is using, and it works the same from a fresh clone. <c>--no-build</c> would instead pack whatever an earlier build
/// left behind, or fail when there is none.
/// </summary>
public sealed class ToolPackageSpecs : IDisposable
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(5);

    private readonly string _temp = Directory.CreateTempSubdirectory("tmactors-pack-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task Node_packs_as_a_dotnet_tool_named_tmactors()
    {
        var output = Path.Combine(_temp, "out");
        var start = new ProcessStartInfo(ChildProcesses.DotnetHost())
        {
            WorkingDirectory = ChildProcesses.RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in (string[])["pack", "src/TendermintActors.Node/TendermintActors.Node.csproj", "-c", "Release",
                     "--artifacts-path", Path.Combine(_temp, "artifacts"), "-o", output,
                     // One node and no build servers: nothing of this run outlives it.
                     "-m:1", "--disable-build-servers", "-nologo"])
            start.ArgumentList.Add(arg);
        ChildProcesses.WithoutMSBuildSettings(start);

        using var pack = Process.Start(start)!;
        var stdout = pack.StandardOutput.ReadToEndAsync();
        var stderr = pack.StandardError.ReadToEndAsync();
        using (var cancel = new CancellationTokenSource(PackTimeout))
        {
            try
            {
                await pack.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                pack.Kill(entireProcessTree: true);
                throw;
            }
        }
        Assert.True(pack.ExitCode == 0, $"dotnet pack exited {pack.ExitCode}:\n{await stdout}\n{await stderr}");

        var package = Assert.Single(Directory.GetFiles(output, "*.nupkg"));
        Assert.Equal("TendermintActors.Node.", Path.GetFileName(package)[.."TendermintActors.Node.".Length]);
        using var zip = ZipFile.OpenRead(package);
        var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal("DotnetTool", Assert.Single(metadata.Element(ns + "packageTypes")!.Elements(ns + "packageType")).Attribute("name")!.Value);
        Assert.Equal("Apache-2.0", metadata.Element(ns + "license")!.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
        // A tool carries its dependencies; a listed one (the prerelease Prometheus exporter) would fail a stable pack.
        Assert.Null(metadata.Element(ns + "dependencies"));

        var settings = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith("/DotnetToolSettings.xml", StringComparison.Ordinal)).Open());
        var command = Assert.Single(settings.Descendants("Command"));
        Assert.Equal("tmactors", command.Attribute("Name")!.Value);
        Assert.Equal("tmactors.dll", command.Attribute("EntryPoint")!.Value);
        Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/OpenTelemetry.Exporter.Prometheus.AspNetCore.dll", StringComparison.Ordinal));
        Assert.Contains(zip.Entries, e => e.FullName == "README.md");
    }
}
