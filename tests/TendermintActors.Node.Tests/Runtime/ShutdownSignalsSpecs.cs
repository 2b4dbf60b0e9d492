using System.Diagnostics;
using System.Runtime.InteropServices;
using TendermintActors.Node.Runtime;

namespace TendermintActors.Node.Tests.Runtime;

public sealed class ShutdownSignalsSpecs
{
    /// <summary>Stands in for PosixSignalRegistration: keeps the handlers so a test can deliver a signal itself.</summary>
    private sealed class FakeSignals
    {
        public readonly Dictionary<PosixSignal, Action<PosixSignalContext>> Handlers = new();
        public int Disposed;

        public IDisposable Register(PosixSignal signal, Action<PosixSignalContext> handler)
        {
            Handlers[signal] = handler;
            return new Registration(this);
        }

        /// <summary>Runs the handler the way the runtime does; true when it asked to keep the process alive.</summary>
        public bool Deliver(PosixSignal signal)
        {
            var context = new PosixSignalContext(signal);
            Handlers[signal](context);
            return context.Cancel;
        }

        private sealed class Registration(FakeSignals owner) : IDisposable
        {
            public void Dispose() => Interlocked.Increment(ref owner.Disposed);
        }
    }

    [Fact]
    public void First_signal_cancels_the_token_and_keeps_the_process_alive_a_second_falls_through()
    {
        var fake = new FakeSignals();
        using var signals = new ShutdownSignals(CancellationToken.None, fake.Register);
        Assert.Equal([PosixSignal.SIGINT, PosixSignal.SIGQUIT, PosixSignal.SIGTERM], fake.Handlers.Keys.OrderBy(s => s.ToString()));

        Assert.True(fake.Deliver(PosixSignal.SIGTERM));
        Assert.True(signals.Token.IsCancellationRequested);
        Assert.False(fake.Deliver(PosixSignal.SIGINT)); // the default action: the process ends now
    }

    [Fact]
    public void A_signal_whose_handler_runs_after_dispose_neither_throws_nor_cancels_and_lets_the_process_exit_with_its_own_code()
    {
        // The runtime copies the handler list before running it on another thread: a handler can run after Dispose.
        var fake = new FakeSignals();
        var signals = new ShutdownSignals(CancellationToken.None, fake.Register);
        var token = signals.Token;
        signals.Dispose();
        Assert.Equal(3, fake.Disposed);

        Assert.True(fake.Deliver(PosixSignal.SIGTERM)); // kept from the default action: the command's exit code stands
        Assert.False(token.IsCancellationRequested);
        Assert.False(fake.Deliver(PosixSignal.SIGINT)); // a second signal still ends the process now
        signals.Dispose(); // twice is harmless
        Assert.Equal(3, fake.Disposed);
    }

    [Fact]
    public void Dispose_is_safe_after_the_outer_token_cancelled()
    {
        using var outer = new CancellationTokenSource();
        var fake = new FakeSignals();
        var signals = new ShutdownSignals(outer.Token, fake.Register);
        outer.Cancel();
        Assert.True(signals.Token.IsCancellationRequested);
        signals.Dispose();
        Assert.True(fake.Deliver(PosixSignal.SIGTERM)); // after Dispose: the process exits on its own
        Assert.False(fake.Deliver(PosixSignal.SIGTERM)); // a second one: the default action
    }

    [Fact]
    public async Task A_signal_delivered_on_another_thread_while_dispose_runs_never_throws()
    {
        const int iterations = 10_000;
        var cancelled = 0;
        using var barrier = new Barrier(2);
        for (var i = 0; i < iterations; i++)
        {
            var fake = new FakeSignals();
            var signals = new ShutdownSignals(CancellationToken.None, fake.Register);
            var token = signals.Token;
            var handler = Task.Run(() =>
            {
                barrier.SignalAndWait();
                return fake.Deliver(PosixSignal.SIGTERM);
            });
            barrier.SignalAndWait();
            signals.Dispose();
            var keptAlive = await handler; // an ObjectDisposedException from the handler would surface here
            // Either the handler won (it cancelled) or Dispose did (nothing to cancel); either way the process is kept
            // from the default action, since the first signal is the one that asks for a clean stop.
            Assert.True(keptAlive);
            if (token.IsCancellationRequested) cancelled++;
        }
        Assert.InRange(cancelled, 0, iterations);
    }

    [Fact]
    public async Task Tmactors_start_exits_0_on_SIGTERM()
    {
        if (OperatingSystem.IsWindows())
            return; // no SIGTERM to send
        using var home = new TempHome();
        Assert.Equal(0, CliRun.Of("init", "--home", home.Root, "--moniker", "sigterm").ExitCode);
        var dll = Path.Combine(AppContext.BaseDirectory, "tmactors.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, "start", "--home", home.Root, "--p2p.laddr", "tcp://127.0.0.1:0", "--rpc.laddr", "tcp://127.0.0.1:0" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        string Stderr() { lock (stderr) return stderr.ToString(); }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync(timeout.Token)) is not null && !line.StartsWith("RPC on:", StringComparison.Ordinal))
            {
            }
            Assert.True(line is not null, $"tmactors start ended before it was running: {Stderr()}");

            Assert.Equal(0, Kill(process.Id, Sigterm));
            var rest = await process.StandardOutput.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}; stderr: {Stderr()}");
            Assert.Contains("Stopped.", rest);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"tmactors start did not stop within 60 s of SIGTERM (exited: {process.HasExited}); stderr: {Stderr()}");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    private const int Sigterm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
