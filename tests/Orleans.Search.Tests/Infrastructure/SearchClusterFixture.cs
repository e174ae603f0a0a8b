using Microsoft.Extensions.Configuration;
using Orleans.Search.Fakes;
using Orleans.Search.Silo.Hosting;
using Orleans.TestingHost;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// A two-silo Orleans test cluster on a real SQLite file, with a loopback fake SearXNG configured as
/// provider <c>web</c> (the default), <c>serial</c> (one call at a time) and <c>rules</c> (for the retry rules: three
/// attempts, 1 ms backoff, a 2 s attempt timeout).
/// </summary>
public sealed class SearchClusterFixture : IAsyncLifetime
{
    private readonly TempDatabase _database = new();
    private InProcessTestCluster? _cluster;

    public FakeSearxng Searxng { get; private set; } = null!;

    /// <summary>The SQLite file the silos store grain state and reminders in.</summary>
    public string DatabaseConnectionString => _database.ConnectionString;

    public InProcessTestCluster Cluster => _cluster!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(20) });
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "web",
            ["Net:AllowListOnly"] = "true",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = Searxng.BaseUrl.ToString(),
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "100",
            ["Search:Providers:web:MaxConcurrency"] = "20",
            ["Search:Providers:web:MaxAttempts"] = "3",
            ["Search:Providers:web:RetryBaseDelayMs"] = "20",
            ["Search:Providers:web:TimeoutSeconds"] = "10",
            // Failure tests share this provider: keep its breaker out of their way (breaker tests use their own provider).
            ["Search:Providers:web:BreakerMinimumThroughput"] = "100000",
            ["Search:Providers:serial:Kind"] = "searxng",
            ["Search:Providers:serial:BaseUrl"] = Searxng.BaseUrl.ToString(),
            ["Search:Providers:serial:MaxConcurrency"] = "1",
            ["Search:Providers:serial:PermitsPerMinute"] = "60000",
            ["Search:Providers:serial:Burst"] = "100",
            // A call held in flight on this provider ends only when it is cancelled, never by its attempt timeout.
            ["Search:Providers:serial:TimeoutSeconds"] = "600",
            ["Search:Providers:serial:BreakerMinimumThroughput"] = "100000",
            ["Search:Providers:rules:Kind"] = "searxng",
            ["Search:Providers:rules:BaseUrl"] = Searxng.BaseUrl.ToString(),
            ["Search:Providers:rules:PermitsPerMinute"] = "60000",
            ["Search:Providers:rules:Burst"] = "100",
            ["Search:Providers:rules:MaxAttempts"] = "3",
            ["Search:Providers:rules:RetryBaseDelayMs"] = "1",
            ["Search:Providers:rules:TimeoutSeconds"] = "2",
            ["Search:Providers:rules:BreakerMinimumThroughput"] = "100000",
            ["Limits:User:PermitsPerMinute"] = "60000",
            ["Limits:User:Burst"] = "100",
            ["Limits:User:MaxConcurrency"] = "50",
        };
        _cluster = Build(2, settings);
        await _cluster.DeployAsync();
        await _cluster.WaitForLivenessToStabilizeAsync();
    }

    /// <summary>
    /// A test cluster of <paramref name="silos"/> search silos configured from <paramref name="settings"/> (and a client
    /// with the search streams), built but not yet deployed: the configuration every cluster of this suite shares.
    /// </summary>
    public static InProcessTestCluster Build(short silos, IEnumerable<KeyValuePair<string, string?>> settings)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(settings));
        builder.ConfigureSilo((_, silo) => silo.AddSearchSilo(silo.Configuration));
        builder.ConfigureClient(client => client.AddMemoryStreams(SearchStreams.ProviderName));
        return builder.Build();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
        await Searxng.DisposeAsync();
        _database.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class SearchClusterCollection : ICollectionFixture<SearchClusterFixture>
{
    public const string Name = "search cluster";
}
