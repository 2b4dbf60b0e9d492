using System.Runtime.InteropServices;

namespace TendermintActors.Node.Runtime;

/// <summary>
/// How the node asks glibc's allocator to hand freed memory back (docs/performance.md, "An idle node"). The runtime's
/// JIT takes its working memory in 64 KiB blocks and keeps freed ones for a few seconds before freeing them; glibc
/// serves such blocks from its main heap, and freed pages below a live allocation stay resident until something calls
/// <c>malloc_trim</c>: ~8 MB in a node that has just started, never handed back while it idles. With this setting a
/// block of 64 KiB or more that the heap's free space cannot serve gets a mapping of its own instead of growing the
/// heap, and the mapping is returned to the OS the moment the block is freed.
/// </summary>
internal static class NativeHeap
{
    /// <summary>The size from which a block gets its own mapping.</summary>
    public const int LargeBlockBytes = 64 * 1024;

    /// <summary>glibc's environment variable for the same setting: when an operator sets it, theirs stands.</summary>
    public const string OperatorVariable = "MALLOC_MMAP_THRESHOLD_";

    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD in glibc's malloc.h

    /// <summary>What <see cref="MapLargeBlocks"/> did.</summary>
    public enum Outcome
    {
        /// <summary>glibc now maps a block of <see cref="LargeBlockBytes"/> or more on its own when its heap's free space cannot serve it.</summary>
        Applied,
        /// <summary>The operator set <see cref="OperatorVariable"/>; left as it is.</summary>
        OperatorsSetting,
        /// <summary>Not glibc (musl, another OS): nothing to set.</summary>
        NotAvailable,
    }

    /// <summary>Called first thing in the node's process, before most of the JIT's work.</summary>
    /// <param name="operatorSetting">The environment's <see cref="OperatorVariable"/>, if any.</param>
    public static Outcome MapLargeBlocks(string? operatorSetting)
    {
        if (!string.IsNullOrEmpty(operatorSetting))
            return Outcome.OperatorsSetting;
        if (!OperatingSystem.IsLinux())
            return Outcome.NotAvailable;
        try
        {
            return Mallopt(MmapThreshold, LargeBlockBytes) == 1 ? Outcome.Applied : Outcome.NotAvailable;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return Outcome.NotAvailable;
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);
}
