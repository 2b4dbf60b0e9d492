using TendermintActors.Node.Commands;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests;

/// <summary>What <c>start</c> protects in a home: one node at a time, writable state, a private node key.</summary>
public sealed class NodeStateSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static TempHome InitHome(string moniker)
    {
        var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", moniker).ExitCode);
        return home;
    }

    private static StartCommand.Options Loopback(TempHome home) => new(home.Home)
    {
        ListenAddress = "tcp://127.0.0.1:0",
        RpcListenAddress = "",
        Sets = ["tendermint.p2p.addr-book-strict=off"],
    };

    private static string LockFile(TempHome home) => Path.Combine(home.Root, HomeLock.FileName);

    [Fact]
    public async Task A_second_start_on_a_running_nodes_home_fails_at_once_naming_the_holder_and_works_after_stop()
    {
        using var home = InitHome("locked");
        var node = await StartCommand.StartAsync(Loopback(home), new StringWriter(), new StringWriter(), CancellationToken.None).WaitAsync(Timeout);
        Assert.Equal(Environment.ProcessId, HomeLock.ReadHolder(LockFile(home)));

        // Bounded: were the home not locked, this start would run until cancelled.
        var second = await Task.Run(() => CliRun.Of("start", "--home", home.Root, "--p2p.laddr", "tcp://127.0.0.1:0", "--rpc.laddr", ""))
            .WaitAsync(Timeout);

        Assert.Equal(1, second.ExitCode);
        Assert.Contains($"home {home.Root} is in use by process {Environment.ProcessId} (lock file {LockFile(home)})", second.Stderr);

        await node.StopAsync();
        await using var again = await StartCommand.StartAsync(Loopback(home), new StringWriter(), new StringWriter(), CancellationToken.None)
            .WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_lock_file_left_by_a_killed_node_does_not_block_the_next_start()
    {
        using var home = InitHome("stale");
        // What a killed node leaves: the file and its PID, without the OS lock, which died with the process.
        File.WriteAllText(LockFile(home), "999999\n");

        await using var node = await StartCommand.StartAsync(Loopback(home), new StringWriter(), new StringWriter(), CancellationToken.None)
            .WaitAsync(Timeout);

        Assert.Equal(Environment.ProcessId, HomeLock.ReadHolder(LockFile(home)));
    }

    [Fact]
    public void The_lock_is_held_against_the_same_process_too_and_released_by_dispose()
    {
        using var home = InitHome("twice");
        Assert.True(HomeLock.TryAcquire(home.Root, out var first, out _));
        Assert.False(HomeLock.TryAcquire(home.Root, out _, out var error));
        Assert.Equal($"home {home.Root} is in use by process {Environment.ProcessId} (lock file {LockFile(home)})", error);
        Assert.Equal(Environment.ProcessId, HomeLock.ReadHolder(LockFile(home)));

        first.Dispose();

        Assert.True(HomeLock.TryAcquire(home.Root, out var second, out _));
        second.Dispose();
        Assert.Equal("", File.ReadAllText(LockFile(home)));
    }

    [Fact]
    public void Start_fails_naming_the_address_books_directory_when_it_cannot_be_written_and_releases_the_lock()
    {
        using var home = InitHome("readonly");
        // A path through a regular file: no one can create anything under it, not even root (for whom modes are no bar).
        var blocker = Path.Combine(home.Root, "blocker");
        File.WriteAllText(blocker, "");
        var book = Path.Combine(blocker, "addrbook.json");

        var run = CliRun.Of("start", "--home", home.Root, "--p2p.laddr", "tcp://127.0.0.1:0", "--rpc.laddr", "",
            "--set", $"tendermint.p2p.addr-book-file=\"{book}\"");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"cannot write to the address book's directory {blocker}", run.Stderr);
        Assert.True(HomeLock.TryAcquire(home.Root, out var released, out _));
        released.Dispose();
    }

    [Fact]
    public void The_write_check_names_an_existing_directory_that_refuses_new_files()
    {
        // /sys refuses new files to root as well; chmod would not stop root.
        var error = WritableDirectory.Check("/sys", "the node key's directory");
        Assert.NotNull(error);
        Assert.StartsWith("cannot write to the node key's directory /sys: ", error);

        using var home = new TempHome();
        Assert.Null(WritableDirectory.Check(home.Root, "the node key's directory"));
        Assert.Empty(Directory.GetFileSystemEntries(home.Root)); // the probe is gone
    }

    [Fact]
    public async Task Start_warns_when_group_or_others_can_read_the_node_key_and_names_the_fix()
    {
        if (OperatingSystem.IsWindows())
            return; // no Unix modes there
        using var home = InitHome("exposed");
        File.SetUnixFileMode(home.NodeKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var stderr = new StringWriter();

        await (await StartCommand.StartAsync(Loopback(home), new StringWriter(), stderr, CancellationToken.None).WaitAsync(Timeout)).StopAsync();

        Assert.Contains($"node key file {home.NodeKeyFile} has mode 644: group or others can use the node's private key; " +
                        $"make it private with 'chmod 600 {home.NodeKeyFile}'", stderr.ToString());
    }

    [Fact]
    public async Task Start_does_not_warn_about_a_key_file_written_by_init()
    {
        using var home = InitHome("private");
        var stderr = new StringWriter();

        await (await StartCommand.StartAsync(Loopback(home), new StringWriter(), stderr, CancellationToken.None).WaitAsync(Timeout)).StopAsync();

        Assert.DoesNotContain("node key file", stderr.ToString());
        Assert.Null(NodeKeys.PermissionWarning(home.NodeKeyFile));
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.GroupWrite)]
    [InlineData(UnixFileMode.OtherExecute)]
    public void Any_group_or_other_bit_on_the_node_key_is_a_warning(UnixFileMode extra)
    {
        if (OperatingSystem.IsWindows())
            return; // no Unix modes there
        using var home = InitHome("bits");
        File.SetUnixFileMode(home.NodeKeyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);
        Assert.Contains($"chmod 600 {home.NodeKeyFile}", NodeKeys.PermissionWarning(home.NodeKeyFile));
    }

    [Fact]
    public void A_key_generated_for_bench_or_crawl_is_written_owner_only()
    {
        if (OperatingSystem.IsWindows())
            return; // no Unix modes there
        using var home = new TempHome();
        using var key = NodeKeys.ForTool(home.Home);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(home.NodeKeyFile));
    }
}
