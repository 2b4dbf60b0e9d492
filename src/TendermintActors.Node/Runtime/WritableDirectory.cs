namespace TendermintActors.Node.Runtime;

/// <summary>
/// Checks at start that the node can write where it keeps state, so that a read-only folder fails the start naming the
/// path instead of surfacing later as "could not save the address book" in the log.
/// </summary>
internal static class WritableDirectory
{
    /// <summary>
    /// Creates the directory when missing, then creates and deletes a probe file in it: permissions, read-only mounts,
    /// ACLs and a path component that is a regular file all show up as they would for the real write. Returns the
    /// message naming <paramref name="what"/> and the directory, or null when it is writable.
    /// </summary>
    public static string? Check(string directory, string what)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".tmactors-write-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose).Dispose();
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot write to {what} {directory}: {e.Message}";
        }
    }
}
