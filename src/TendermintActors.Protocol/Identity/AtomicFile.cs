using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace TendermintActors.Protocol.Identity;

/// <summary>
/// Atomic, durable file replacement, the POSIX recipe: write a temp file beside the target, fsync it, rename it over
/// the target, then fsync the directory so that the rename itself survives a power loss. A process killed at any
/// point leaves the old file or the new one, never part of one; once <see cref="WriteAllBytes"/> returns, the new
/// one is on disk. A kill can leave the temp file behind (<c>.NAME.PID.GUID.tmp</c>); it is never read, and the next
/// write of the same file deletes it once its process is gone.
/// </summary>
internal static partial class AtomicFile
{
    public static void WriteAllText(string path, string contents, bool ownerOnly) =>
        WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(contents), ownerOnly);

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> contents, bool ownerOnly)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (ownerOnly && !OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { /* the original error matters more */ }
            throw;
        }
        FlushDirectory(dir);
        RemoveStaleTemps(dir, Path.GetFileName(full));
    }

    /// <summary>
    /// Deletes the temp files of <paramref name="name"/> left by processes that no longer run (killed mid-write), so
    /// that crashes do not pile them up. Best effort: a file it cannot delete waits for the next write.
    /// </summary>
    private static void RemoveStaleTemps(string dir, string name)
    {
        var prefix = $".{name}.";
        const string suffix = ".tmp";
        try
        {
            foreach (var path in Directory.EnumerateFiles(dir, prefix + "*" + suffix))
            {
                var rest = Path.GetFileName(path);
                if (!rest.StartsWith(prefix, StringComparison.Ordinal) || rest.Length <= prefix.Length + suffix.Length)
                    continue;
                var pidAndGuid = rest[prefix.Length..^suffix.Length];
                var dot = pidAndGuid.IndexOf('.');
                if (dot <= 0 || !int.TryParse(pidAndGuid.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                    || pid == Environment.ProcessId || IsRunning(pid))
                    continue;
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// fsync(2) on the directory, which makes its entries (our rename) durable. Windows has no such call (a
    /// directory cannot be opened for flushing there); NTFS journals the rename's metadata itself.
    /// </summary>
    private static void FlushDirectory(string dir)
    {
        if (OperatingSystem.IsWindows())
            return;
        var fd = Open(dir, ReadOnly);
        if (fd < 0)
            throw new IOException($"cannot open directory '{dir}' to flush it to disk: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        try
        {
            // EINVAL: a file system that cannot sync a directory (fsync(2)); the rename is as durable as it gets there.
            if (Fsync(fd) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != EInval)
                throw new IOException($"cannot flush directory '{dir}' to disk: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    // O_RDONLY and EINVAL have these values on Linux and macOS alike.
    private const int ReadOnly = 0;
    private const int EInval = 22;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
