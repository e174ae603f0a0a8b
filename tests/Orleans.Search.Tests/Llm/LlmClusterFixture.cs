using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Fakes;
using Orleans.Search.Llm;
using Orleans.TestingHost;

namespace Orleans.Search.Tests.Llm;

/// <summary>
/// A one-silo cluster whose LLM providers all point at one loopback <see cref="FakeOpenAi"/> (each with its own model
/// name, so the fake's requests tell them apart): <c>main</c> (streamed, 3 attempts, 4 s timeout), <c>plain</c>
/// (not streamed), <c>quota</c> (requests and tokens per minute, for the limiter) and <c>wrongkey</c> (a bad key).
/// </summary>
public sealed class LlmClusterFixture : IAsyncLifetime
{
    public const string ApiKey = "sk-test-key";
    public const decimal InputPrice = 2.5m, CachedPrice = 1.25m, OutputPrice = 10m;

    private readonly TempDatabase _database = new();
    private InProcessTestCluster? _cluster;

    public FakeOpenAi Fake { get; private set; } = null!;

    public InProcessTestCluster Cluster => _cluster!;

    public ILanguageModels Models => Cluster.Silos[0].ServiceProvider.GetRequiredService<ILanguageModels>();

    public async Task InitializeAsync()
    {
        Fake = await FakeOpenAi.StartAsync(new FakeOpenAiOptions { RequiredApiKey = ApiKey });
        var api = Fake.ApiBaseUrl.ToString();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Llm:DefaultProvider"] = "main",
            ["Llm:Providers:main:BaseUrl"] = api,
            ["Llm:Providers:main:ApiKey"] = ApiKey,
            ["Llm:Providers:main:Model"] = "main-model",
            ["Llm:Providers:main:TimeoutSeconds"] = "4",
            ["Llm:Providers:main:MaxAttempts"] = "3",
            ["Llm:Providers:main:RetryBaseDelayMs"] = "20",
            ["Llm:Providers:plain:Kind"] = "openai",
            ["Llm:Providers:plain:BaseUrl"] = api,
            ["Llm:Providers:plain:ApiKey"] = ApiKey,
            ["Llm:Providers:plain:Model"] = "plain-model",
            ["Llm:Providers:plain:Stream"] = "false",
            ["Llm:Providers:quota:BaseUrl"] = api,
            ["Llm:Providers:quota:ApiKey"] = ApiKey,
            ["Llm:Providers:quota:Model"] = "quota-model",
            ["Llm:Providers:quota:RequestsPerMinute"] = "60",
            ["Llm:Providers:quota:TokensPerMinute"] = "6000",
            ["Llm:Providers:quota:BurstSeconds"] = "5",
            ["Llm:Providers:quota:MaxConcurrency"] = "4",
            ["Llm:Providers:wrongkey:BaseUrl"] = api,
            ["Llm:Providers:wrongkey:ApiKey"] = "sk-wrong",
            ["Llm:Providers:wrongkey:Model"] = "main-model",
            ["Llm:Prices:main-model:InputPerMillion"] = InputPrice.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Prices:main-model:CachedInputPerMillion"] = CachedPrice.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Prices:main-model:OutputPerMillion"] = OutputPrice.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // No search happens here; a search provider that is not the local corpus keeps the silo's start light.
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = Fake.BaseUrl.ToString(),
        };
        _cluster = Infrastructure.SearchClusterFixture.Build(1, settings);
        await _cluster.DeployAsync();
    }

    /// <summary>Forgets the fake's log and bill and puts its options back to their defaults.</summary>
    public FakeOpenAi FreshFake()
    {
        var o = Fake.Options;
        o.Reply = null;
        o.TimeToFirstToken = TimeSpan.Zero;
        o.TokensPerSecond = 0;
        o.RequestsPerMinute = 0;
        o.TokensPerMinute = 0;
        o.BurstSeconds = 60;
        o.ReportUsage = true;
        o.KeepAliveComments = false;
        Fake.Reset();
        return Fake;
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
        await Fake.DisposeAsync();
        _database.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class LlmClusterCollection : ICollectionFixture<LlmClusterFixture>
{
    public const string Name = "llm cluster";
}
