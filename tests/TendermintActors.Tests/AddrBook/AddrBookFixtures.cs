using System.Net;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Tests.AddrBook;

/// <summary>A clock the test moves by hand; the actor reads it only while handling a message the test sent.</summary>
internal sealed class ManualClock(DateTime start)
{
    public DateTime Now { get; set; } = start;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>A temporary folder for one spec's book file, removed afterwards.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tmactors-addrbook-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { /* best effort */ }
    }
}

internal static class Addrs
{
    public static NodeId Id(int n) => NodeId.Parse(n.ToString("x40"));

    /// <summary>Routable, each n in its own /16 group for n below 256*80.</summary>
    public static NetAddress Routable(int n) =>
        new(Id(n), IPAddress.Parse($"{20 + n / 256 % 80}.{n % 256}.1.1"), 26656);

    public static NetAddress Source(int n) =>
        new(Id(1_000_000 + n), IPAddress.Parse($"{110 + n / 256 % 60}.{n % 256}.2.2"), 26656);
}
