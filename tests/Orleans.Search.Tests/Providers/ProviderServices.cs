using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Search.Hosting;
using Orleans.Search.Providers;

namespace Orleans.Search.Tests.Providers;

/// <summary>
/// The silo's provider services (catalog, adapters, startup services) from the real registration, without a cluster:
/// for tests that drive a provider adapter directly. Log lines are kept for assertions.
/// </summary>
public sealed class ProviderServices : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly List<IHostedService> _started = [];

    private ProviderServices(ServiceProvider services, CapturedLogs logs)
    {
        _services = services;
        Logs = logs;
    }

    public CapturedLogs Logs { get; }

    public SearchProviderCatalog Catalog => _services.GetRequiredService<SearchProviderCatalog>();

    public ISearchProvider Provider(string name) => Catalog.Get(name);

    public static ProviderServices Create(IDictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var logs = new CapturedLogs();
        var services = new ServiceCollection()
            .AddLogging(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(logs))
            .AddSearchGrainServices(configuration)
            .BuildServiceProvider();
        return new ProviderServices(services, logs);
    }

    /// <summary>Starts the hosted services the silo would start (the local index build, say).</summary>
    public async Task StartHostedServicesAsync()
    {
        foreach (var service in _services.GetServices<IHostedService>())
        {
            await service.StartAsync(CancellationToken.None);
            _started.Add(service);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in _started)
        {
            await service.StopAsync(CancellationToken.None);
        }
        await _services.DisposeAsync();
    }
}

/// <summary>Every formatted log line, with its level and category.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Message)> _lines = new();

    public IReadOnlyList<(LogLevel Level, string Category, string Message)> Lines => [.. _lines];

    public bool Any(Func<string, bool> match) => _lines.Any(l => match(l.Message));

    public override string ToString() => string.Join('\n', _lines.Select(l => $"{l.Level}: {l.Message}"));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue((logLevel, category, formatter(state, exception)));
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationSensitiveCollection
{
    /// <summary>Tests that measure process-wide allocation run alone, so other tests' allocations do not count against them.</summary>
    public const string Name = "allocation-sensitive (runs alone)";
}
