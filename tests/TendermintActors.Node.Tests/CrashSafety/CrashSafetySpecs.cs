using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using TendermintActors.Protocol.Identity;
using Xunit.Abstractions;

namespace TendermintActors.Node.Tests.CrashSafety;

/// <summary>
/// kill -9 at random points of a node saving its state (docs/node-state.md, "Crash safety"): a child process saves
/// the address book and the node key through the node's writers in a loop, the test SIGKILLs it after a random
/// number of completed saves, and after every kill both files must parse with the node's readers and hold the last
/// save the child reported complete, or the one it was writing.
/// </summary>
public sealed class CrashSafetySpecs(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 60;
    private const int MostSavesBeforeAKill = 6;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string _dir = Directory.CreateTempSubdirectory("tmactors-crash-").FullName;

    [Fact]
    public async Task Killed_at_random_points_of_its_saves_the_node_keeps_its_last_complete_save_of_book_and_key()
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"random seed {seed}");
        var random = new Random(seed);
        var onDisk = 0;
        var killedMidWrite = 0;
        for (var kill = 1; kill <= Kills; kill++)
        {
            int lastComplete;
            using (var writer = Writer.Launch(_dir))
            {
                // Every run resumes from what the previous kill left: it must count on from there, one save at a time.
                var expected = onDisk + 1;
                foreach (var save in await writer.ReadSaves(random.Next(1, MostSavesBeforeAKill + 1), Timeout))
                    Assert.Equal(expected++, save);
                writer.Kill();
                foreach (var save in await writer.RemainingSaves(Timeout))
                    Assert.Equal(expected++, save);
                lastComplete = expected - 1;
            }

            var book = StateWriter.ReadBook(Path.Combine(_dir, StateWriter.BookFile));
            Assert.NotNull(book);
            Assert.InRange(book.Size, lastComplete, lastComplete + 1);
            using (var key = NodeKeyFile.Load(Path.Combine(_dir, StateWriter.KeyFile)))
            {
                // The key is saved after the book: it holds the last complete save, or the next when the book does too.
                var keySave = Enumerable.Range(lastComplete, book.Size - lastComplete + 1).SingleOrDefault(save => IsKeyOf(key, save));
                Assert.True(keySave != 0, $"kill {kill}: the node key is neither save {lastComplete} nor {book.Size}");
            }
            // A kill leaves at most the temp file of the write it interrupted: the next run cleans up older ones.
            var temps = Directory.GetFiles(_dir, ".*.tmp");
            Assert.True(temps.Length <= 1, $"kill {kill}: temp files left: {string.Join(", ", temps.Select(Path.GetFileName))}");
            killedMidWrite += temps.Length;
            onDisk = book.Size;
        }
        output.WriteLine($"{Kills} kills, {onDisk} saves, {killedMidWrite} kills left a temp file behind");
    }

    private static bool IsKeyOf(NodeKey key, int save)
    {
        using var expected = StateWriter.Key(save);
        return key.Id == expected.Id;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { /* best effort */ }
    }

    /// <summary>This test assembly run as <see cref="StateWriter"/>, its save numbers read line by line.</summary>
    private sealed class Writer : IDisposable
    {
        private readonly Process _process;
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
        private readonly StringBuilder _stderr = new();

        private Writer(Process process) => _process = process;

        public static Writer Launch(string dir)
        {
            var info = new ProcessStartInfo(ChildProcesses.DotnetHost())
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(typeof(StateWriter).Assembly.Location);
            info.ArgumentList.Add(StateWriter.Command);
            info.ArgumentList.Add(dir);
            var process = new Process { StartInfo = info };
            var writer = new Writer(process);
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) writer._lines.Writer.TryComplete();
                else writer._lines.Writer.TryWrite(e.Data);
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                    lock (writer._stderr) writer._stderr.AppendLine(e.Data);
            };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return writer;
        }

        private string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

        public async Task<IReadOnlyList<int>> ReadSaves(int count, TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            var saves = new List<int>(count);
            while (saves.Count < count)
            {
                if (!await _lines.Reader.WaitToReadAsync(cancel.Token))
                    Assert.Fail($"the writer ended after {saves.Count} of {count} saves; stderr:\n{Stderr}");
                while (saves.Count < count && _lines.Reader.TryRead(out var line))
                    saves.Add(int.Parse(line));
            }
            return saves;
        }

        /// <summary>SIGKILL: no handler, no flush, no finaliser runs.</summary>
        public void Kill()
        {
            Assert.False(_process.HasExited, $"the writer ended before the kill; stderr:\n{Stderr}");
            _process.Kill(entireProcessTree: false);
        }

        /// <summary>The saves it reported between our last read and its death.</summary>
        public async Task<IReadOnlyList<int>> RemainingSaves(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            var saves = new List<int>();
            await foreach (var line in _lines.Reader.ReadAllAsync(cancel.Token))
                saves.Add(int.Parse(line));
            await _process.WaitForExitAsync(cancel.Token);
            return saves;
        }

        public void Dispose() => ChildProcesses.KillAndDispose(_process);
    }
}
