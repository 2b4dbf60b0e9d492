using System.Runtime.InteropServices;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Runtime;

/// <summary>The node's request to glibc to give large blocks a mapping of their own.</summary>
public sealed class NativeHeapTests
{
    private static bool Glibc => OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var libc) &&
                                 NativeLibrary.TryGetExport(libc, "mallopt", out _);

    [Fact]
    public void Once_applied_a_large_block_is_mapped_on_its_own()
    {
        var outcome = NativeHeap.MapLargeBlocks(operatorSetting: null);
        if (!Glibc)
        {
            Assert.Equal(NativeHeap.Outcome.NotAvailable, outcome);
            return;
        }
        Assert.Equal(NativeHeap.Outcome.Applied, outcome);
        // glibc serves a block from free space its heap already has (bins, the top chunk) before it maps one; only a
        // request the heap cannot serve goes on to a mapping, and only if it is at least the threshold. So take
        // 64 KiB blocks until the heap's free space is used up: with the setting the next one gets a mapping of its
        // own (glibc marks it with bit 1 of the size word just before the block); without it (glibc's threshold is
        // 128 KiB or more) none ever does, the heap grows instead.
        const long IsMapped = 2;
        var blocks = new List<nint>();
        try
        {
            var mapped = false;
            while (!mapped && blocks.Count < 4096) // 256 MiB of address space, one touched page per block
            {
                var block = Marshal.AllocHGlobal(NativeHeap.LargeBlockBytes); // malloc
                blocks.Add(block);
                mapped = (Marshal.ReadInt64(BlockHeader(block)) & IsMapped) != 0;
            }
            Assert.True(mapped, $"none of {blocks.Count} blocks of {NativeHeap.LargeBlockBytes} bytes got a mapping of its own");
        }
        finally
        {
            foreach (var block in blocks)
                Marshal.FreeHGlobal(block);
        }
    }

    private static nint BlockHeader(nint block) => block - sizeof(long);

    [Theory]
    [InlineData("131072")]
    [InlineData("0")]
    public void An_operators_own_threshold_stands(string setting) =>
        Assert.Equal(NativeHeap.Outcome.OperatorsSetting, NativeHeap.MapLargeBlocks(setting));

    [Fact]
    public void The_start_can_say_what_the_call_did()
    {
        var outcome = NativeHeap.MapLargeBlocks("262144");

        Assert.Equal(outcome, NativeHeap.AtStart);
        Assert.Contains("MALLOC_MMAP_THRESHOLD_", NativeHeap.Describe(NativeHeap.Outcome.OperatorsSetting));
        Assert.Contains("64 KiB", NativeHeap.Describe(NativeHeap.Outcome.Applied));
        Assert.Contains("not glibc", NativeHeap.Describe(NativeHeap.Outcome.NotAvailable));
    }
}
