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
        // glibc marks a block served by a mapping of its own (handed back to the OS when freed) with bit 1 of the
        // size word just before it; one from an arena (kept by glibc when freed) has it clear.
        const long IsMapped = 2;
        var block = Marshal.AllocHGlobal(NativeHeap.LargeBlockBytes); // malloc
        var small = Marshal.AllocHGlobal(1024);
        try
        {
            Assert.Equal(IsMapped, Marshal.ReadInt64(BlockHeader(block)) & IsMapped);
            Assert.Equal(0, Marshal.ReadInt64(BlockHeader(small)) & IsMapped);
        }
        finally
        {
            Marshal.FreeHGlobal(block);
            Marshal.FreeHGlobal(small);
        }
    }

    private static nint BlockHeader(nint block) => block - sizeof(long);

    [Theory]
    [InlineData("131072")]
    [InlineData("0")]
    public void An_operators_own_threshold_stands(string setting) =>
        Assert.Equal(NativeHeap.Outcome.OperatorsSetting, NativeHeap.MapLargeBlocks(setting));
}
