using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// One running node per home: <c>&lt;home&gt;/tmactors.lock</c>, held open with <see cref="FileShare.None"/> while the
/// node runs and holding its PID. For <see cref="FileShare.None"/> .NET takes <c>flock(LOCK_EX | LOCK_NB)</c> on Linux
/// and macOS (Windows' share mode does the same job): a lock on the open file, so a second open conflicts even in the
/// same process, and one the OS drops when the process dies, so the file a killed node leaves behind blocks nobody.
/// The file itself stays after release (emptied): deleting it would let two nodes lock two different files.
/// </summary>
internal sealed class HomeLock : IDisposable
{
    public const string FileName = "tmactors.lock";

    private readonly FileStream _stream;

    private HomeLock(FileStream stream, string path)
    {
        _stream = stream;
        FilePath = path;
    }

    public string FilePath { get; }

    /// <summary>Locks the home, or says why not: held by another node (naming its PID when readable) or not writable.</summary>
    public static bool TryAcquire(string home, [NotNullWhen(true)] out HomeLock? homeLock, [NotNullWhen(false)] out string? error)
    {
        homeLock = null;
        var path = Path.Combine(home, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (IsHeldElsewhere(e))
        {
            error = ReadHolder(path) is { } pid
                ? $"home {home} is in use by process {pid} (lock file {path})"
                : $"home {home} is in use by another process (lock file {path})";
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot lock home {home}: cannot create the lock file {path}: {e.Message}";
            return false;
        }

        try
        {
            var pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            stream.SetLength(0);
            stream.Write(pid);
            stream.Flush();
        }
        catch (IOException e)
        {
            stream.Dispose();
            error = $"cannot lock home {home}: cannot write the lock file {path}: {e.Message}";
            return false;
        }
        homeLock = new HomeLock(stream, path);
        error = null;
        return true;
    }

    /// <summary>Empties the file (its PID is no longer running a node here) and drops the lock.</summary>
    public void Dispose()
    {
        try
        {
            _stream.SetLength(0);
        }
        catch (IOException)
        {
            // The lock is what matters; a stale PID in an unlocked file misleads no node.
        }
        _stream.Dispose();
    }

    // EWOULDBLOCK from flock (11 on Linux, 35 on macOS), or Windows' sharing violation.
    private static bool IsHeldElsewhere(IOException e) =>
        e.GetType() == typeof(IOException) && (OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) == 32 : e.HResult is 11 or 35);

    /// <summary>
    /// The PID written in a lock file someone holds. Every .NET open takes a flock (shared for reading), which the
    /// holder's exclusive one refuses, so the file is read through libc's open, which takes none.
    /// </summary>
    internal static int? ReadHolder(string path)
    {
        if (OperatingSystem.IsWindows())
            return null; // the holder's share mode refuses readers too
        try
        {
            var fd = Open(path, 0 /* O_RDONLY */);
            if (fd < 0)
                return null;
            using var handle = new SafeFileHandle(fd, ownsHandle: true);
            Span<byte> buffer = stackalloc byte[32];
            var read = RandomAccess.Read(handle, buffer, 0);
            return int.TryParse(Encoding.ASCII.GetString(buffer[..read]).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                ? pid
                : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException or NotSupportedException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);
}
