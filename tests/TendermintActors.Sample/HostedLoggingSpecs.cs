using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TendermintActors.Protocol.Identity;

namespace TendermintActors.Sample;

/// <summary>The hosted example's logs reach the host's logger providers (Akka.Hosting's ILoggerFactory bridge).</summary>
public sealed class HostedLoggingSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_log_line_from_the_switch_reaches_a_logger_provider_of_the_host_with_its_category_and_properties()
    {
        var provider = new CollectingProvider(e => e.Message.Contains("P2P switch ", StringComparison.Ordinal));
        var dir = Directory.CreateTempSubdirectory("tmactors-hosted-").FullName;
        using var host = new HostBuilder()
            .ConfigureLogging(logging => logging.ClearProviders().AddProvider(provider).SetMinimumLevel(LogLevel.Information))
            .ConfigureServices(services => HostedExample.AddTxNode(services, options =>
            {
                options.Moniker = "logged";
                options.Network = "test-net";
                options.ListenAddress = "tcp://127.0.0.1:0";
                options.NodeKey = NodeKey.Generate();
                options.AddrBookFile = Path.Combine(dir, "addrbook.json");
            }))
            .Build();
        await host.StartAsync();
        try
        {
            var started = await provider.Matched.WaitAsync(Timeout);
            Assert.Equal(LogLevel.Information, started.Level);
            // The bridge logs every event under one category; the module is the actor path in LogSource: p2p/switch
            // (and its peers below it), p2p/pex, p2p/addrbook. The message's named values come as properties.
            Assert.Equal("Akka.Actor.ActorSystem", started.Category);
            Assert.Contains("started; listening on 127.0.0.1:", started.Message);
            Assert.EndsWith("/user/p2p/switch", Assert.Single(started.Properties, p => p.Key == "LogSource").Value?.ToString());
            Assert.Contains(started.Properties, p => p.Key == "NodeId");
        }
        finally
        {
            await host.StopAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed record Entry(string Category, LogLevel Level, string Message, IReadOnlyList<KeyValuePair<string, object?>> Properties);

    /// <summary>A logger provider as an application might register one, keeping what it is given.</summary>
    private sealed class CollectingProvider(Func<Entry, bool> match) : ILoggerProvider
    {
        private readonly TaskCompletionSource<Entry> _matched = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly ConcurrentQueue<Entry> Entries = new();

        public Task<Entry> Matched => _matched.Task;

        private void Add(Entry entry)
        {
            Entries.Enqueue(entry);
            if (match(entry))
                _matched.TrySetResult(entry);
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose() { }

        private sealed class Logger(CollectingProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var properties = state is IEnumerable<KeyValuePair<string, object?>> pairs ? pairs.ToList() : [];
                provider.Add(new Entry(category, logLevel, formatter(state, exception), properties));
            }
        }
    }
}
