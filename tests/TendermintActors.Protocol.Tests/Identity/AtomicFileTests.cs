using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.Tests.Identity;

/// <summary>The atomic write's housekeeping: the temp files a killed writer left (its kill -9 test is CrashSafetySpecs).</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tmactors-atomic-").FullName;

    [Fact]
    public void A_write_replaces_the_file_and_leaves_no_temp_file()
    {
        var path = Path.Combine(_dir, "state.json");
        AtomicFile.WriteAllText(path, "one", ownerOnly: false);
        AtomicFile.WriteAllText(path, "two", ownerOnly: true);
        Assert.Equal("two", File.ReadAllText(path));
        Assert.Equal(["state.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void A_write_deletes_the_temp_files_of_its_file_left_by_dead_processes_and_nothing_else()
    {
        var path = Path.Combine(_dir, "state.json");
        // No process has this ID (Linux caps PIDs at 2^22, macOS and Windows lower still).
        var dead = Temp("state.json", int.MaxValue);
        // These stay: a live process's write in progress (our own; PID 1 where there is one), another file's
        // leftover, and files that merely look alike.
        var ours = Temp("state.json", Environment.ProcessId);
        var init = OperatingSystem.IsWindows() ? null : Temp("state.json", 1);
        var otherFile = Temp("other.json", int.MaxValue);
        var notOurs = Touch(".state.json.notapid.tmp");
        var noGuid = Touch($".state.json.{int.MaxValue}.tmp");

        AtomicFile.WriteAllText(path, "new", ownerOnly: false);

        Assert.False(File.Exists(dead));
        Assert.True(File.Exists(ours));
        if (init is not null) Assert.True(File.Exists(init));
        Assert.True(File.Exists(otherFile));
        Assert.True(File.Exists(notOurs));
        Assert.True(File.Exists(noGuid));
        Assert.Equal("new", File.ReadAllText(path));
    }

    private string Temp(string name, int pid) => Touch($".{name}.{pid}.{Guid.NewGuid():N}.tmp");

    private string Touch(string name)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, "partial");
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { /* best effort */ }
    }
}
