using System.Net;
using System.Security.Cryptography;
using System.Text;
using TendermintActors.Protocol.AddrBook;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Node.Tests.CrashSafety;

/// <summary>
/// The child process of <see cref="CrashSafetySpecs"/>: saves a growing address book and a changing node key through
/// the node's own writers (<see cref="AddrBookFile"/>, <see cref="NodeKeyFile"/>), as fast as it can, and prints
/// save number N on stdout after save N of both files is complete. It resumes from the files it finds (read with the
/// node's readers), so a run after a kill continues the sequence: save N holds N addresses and the key of seed N.
/// </summary>
internal static class StateWriter
{
    public const string Command = "state-writer";
    public const string BookFile = "addrbook.json";
    public const string KeyFile = "node_key.json";

    private static readonly DateTime Now = new(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>
    /// The test assembly's entry point for the child processes of its specs: <c>dotnet TendermintActors.Node.Tests.dll
    /// state-writer DIR</c>, or <see cref="Runtime.RuntimeSettingsProbe"/>'s command; the test host never calls it.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args is [Runtime.RuntimeSettingsProbe.Command, .. var rest])
            return Runtime.RuntimeSettingsProbe.Run(rest);
        if (args is not [Command, var dir])
        {
            Console.Error.WriteLine($"usage: {Command} DIR | {Runtime.RuntimeSettingsProbe.Command} ARGS... (test harnesses of TendermintActors.Node.Tests)");
            return 2;
        }
        // Ends with its parent: a test runner that dies leaves no writer looping (its stdin pipe closes).
        new Thread(() =>
        {
            Console.In.ReadToEnd();
            Environment.Exit(3);
        }) { IsBackground = true }.Start();
        Run(dir, Console.Out);
        return 0;
    }

    private static void Run(string dir, TextWriter progress)
    {
        var bookPath = Path.Combine(dir, BookFile);
        var keyPath = Path.Combine(dir, KeyFile);
        var book = ReadBook(bookPath) ?? AddressBook.CreateNew(routabilityStrict: false, new Random(1));
        if (File.Exists(keyPath))
            NodeKeyFile.Load(keyPath).Dispose();
        for (var save = book.Size + 1; ; save++)
        {
            if (book.AddAddress(Address(save), Source(save), Now) is not AddResult.Added || book.Size != save)
                throw new InvalidOperationException($"save {save}: the book did not take address {Address(save)} (size {book.Size})");
            AddrBookFile.Write(bookPath, book);
            using (var key = Key(save))
                NodeKeyFile.Save(key, keyPath, overwrite: true);
            progress.WriteLine(save);
            progress.Flush();
        }
    }

    /// <summary>The book as the node reads it, or null when there is no file.</summary>
    public static AddressBook? ReadBook(string path) =>
        File.Exists(path) ? AddrBookJson.Deserialize(File.ReadAllText(path), routabilityStrict: false, new Random(1)) : null;

    /// <summary>The node key of save <paramref name="save"/>.</summary>
    public static NodeKey Key(int save) => NodeKey.FromSeed(Seed("key", save));

    // Each address has its own pair of (address /16, source /16) groups, which picks its new bucket: the 256 buckets
    // (64 entries each) fill evenly and stay far from full.
    private static NetAddress Address(int save) =>
        new(Id("addr", save), new IPAddress([10, (byte)(save >> 8), (byte)save, 1]), 26656);

    private static NetAddress Source(int save) =>
        new(Id("src", save % 256), new IPAddress([10, (byte)save, 0, 2]), 26656);

    private static NodeId Id(string kind, int n)
    {
        using var key = NodeKey.FromSeed(Seed(kind, n));
        return key.Id;
    }

    private static byte[] Seed(string kind, int n) => SHA256.HashData(Encoding.UTF8.GetBytes($"{kind}-{n}"));
}
