using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Api;

/// <summary>
/// One real gateway with no API keys (every caller is user <c>local</c>). Providers: <c>web</c> (default, a fake
/// SearXNG that fails queries containing <see cref="FailMarker"/> with 500), <c>gated</c> (a second fake whose gate
/// tests close to hold calls in flight), <c>held</c> (the second fake again, one call at a time, retries and a ten-minute
/// attempt timeout), <c>metered</c> (the first fake behind a limiter of one permit per ten minutes), <c>counted</c>
/// (the first fake, for the one test that reads its limiter's numbers) and <c>local</c> (the sample corpus).
/// </summary>
public sealed class OpenGatewayFixture : IAsyncLifetime
{
    public const string FailMarker = "[fail500]";

    public GatewayHost Gateway { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    public FakeSearxng GatedSearxng { get; private set; } = null!;

    /// <summary>Sees lookups arrive at the result cache grains, and which of them wait on another's fetch.</summary>
    public CacheLookupProbe CacheLookups { get; } = new();

    public HttpClient Http => Gateway.Http;

    public async Task InitializeAsync()
    {
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions
        {
            Latency = TimeSpan.FromMilliseconds(5),
            FailQueries = q => q.Contains(FailMarker, StringComparison.Ordinal),
        });
        GatedSearxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        var settings = GatewaySettings.Common(Searxng);
        GatewaySettings.AddSearxng(settings, "gated", GatedSearxng, [.. GatewaySettings.Unbound, ("MaxAttempts", "1"), ("TimeoutSeconds", "120")]);
        // A held call here can end only by a cancel (the attempt timeout is far away), and a retry would show.
        GatewaySettings.AddSearxng(settings, "held", GatedSearxng,
            ("PermitsPerMinute", "60000"), ("Burst", "100"), ("MaxConcurrency", "1"), ("MaxAttempts", "3"), ("RetryBaseDelayMs", "10"), ("TimeoutSeconds", "600"));
        // A token per 100 s and no jitter headroom: after its calls the limiter's numbers are known to two decimals.
        GatewaySettings.AddSearxng(settings, "counted", Searxng,
            ("PermitsPerMinute", "0.6"), ("Burst", "5"), ("JitterToleranceMs", "0"), ("MaxConcurrency", "3"), ("MaxAttempts", "1"));
        GatewaySettings.AddSearxng(settings, "metered", Searxng, ("PermitsPerMinute", "0.1"), ("Burst", "1"), ("MaxConcurrency", "5"), ("MaxAttempts", "1"));
        Gateway = await GatewayHost.StartAsync(settings, CacheLookups.AddTo);
    }

    public async Task DisposeAsync()
    {
        GatedSearxng?.Options.OpenGate();
        await FixtureParts.DisposeAsync(Gateway, GatedSearxng, Searxng);
    }
}

[CollectionDefinition(Name)]
public sealed class OpenGatewayCollection : ICollectionFixture<OpenGatewayFixture>
{
    public const string Name = "api: gateway without keys";
}

/// <summary>
/// One real gateway with API keys (configured as SHA-256 hashes) for alice, bob and carol, and an admin key for ops;
/// <see cref="Alice"/> sends a Bearer key, <see cref="Bob"/>, <see cref="Carol"/> and <see cref="Ops"/> an X-Api-Key.
/// A user may have <see cref="MaxActiveJobs"/> active jobs; provider <c>gated</c> is a second fake whose gate holds jobs active.
/// </summary>
public sealed class KeyedGatewayFixture : IAsyncLifetime
{
    public const string AliceKey = "key-alice";
    public const string BobKey = "key-bob";
    public const string CarolKey = "key-carol";
    public const string OpsKey = "key-ops";
    public const int MaxActiveJobs = 3;

    public GatewayHost Gateway { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    /// <summary>No credentials.</summary>
    public HttpClient Anonymous => Gateway.Http;

    public HttpClient Alice { get; private set; } = null!;

    public HttpClient Bob { get; private set; } = null!;

    public HttpClient Carol { get; private set; } = null!;

    /// <summary>User <c>ops</c>, with the admin role.</summary>
    public HttpClient Ops { get; private set; } = null!;

    public FakeSearxng GatedSearxng { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        GatedSearxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        var settings = GatewaySettings.Common(Searxng);
        TestKeys.Configure(settings, 0, AliceKey, "alice");
        TestKeys.Configure(settings, 1, BobKey, "bob");
        TestKeys.Configure(settings, 2, CarolKey, "carol");
        TestKeys.Configure(settings, 3, OpsKey, "ops", "admin");
        settings["Limits:User:MaxActiveJobs"] = MaxActiveJobs.ToString();
        GatewaySettings.AddSearxng(settings, "gated", GatedSearxng, ("MaxAttempts", "1"), ("TimeoutSeconds", "120"));
        Gateway = await GatewayHost.StartAsync(settings);
        Alice = Gateway.Client(AliceKey);
        Bob = Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", BobKey));
        Carol = Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", CarolKey));
        Ops = Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", OpsKey));
    }

    /// <summary>A client of this gateway with its own headers.</summary>
    public HttpClient Client(Action<HttpClient> configure)
    {
        var client = Gateway.Client();
        configure(client);
        return client;
    }

    public async Task DisposeAsync()
    {
        GatedSearxng?.Options.OpenGate();
        Alice?.Dispose();
        Bob?.Dispose();
        Carol?.Dispose();
        Ops?.Dispose();
        await FixtureParts.DisposeAsync(Gateway, GatedSearxng, Searxng);
    }
}

[CollectionDefinition(Name)]
public sealed class KeyedGatewayCollection : ICollectionFixture<KeyedGatewayFixture>
{
    public const string Name = "api: gateway with keys";
}

/// <summary>API keys as the gateway is configured with them (see <see cref="TestAuth"/>): the hex SHA-256 of the key, never the key itself.</summary>
internal static class TestKeys
{
    public static string Sha256(string key) => TestAuth.Sha256(key);

    /// <summary>Adds <c>Auth:Keys:{n}</c> for <paramref name="key"/>.</summary>
    public static void Configure(IDictionary<string, string?> settings, int n, string key, string user, string? role = null)
    {
        foreach (var (name, value) in TestAuth.KeySettings(n, new TestAuth.ApiKey(key, user, role ?? "user")))
        {
            settings[name] = value;
        }
    }
}

/// <summary>The one place for the settings the in-process test gateways share.</summary>
internal static class GatewaySettings
{
    /// <summary>Provider limits that never bind in these tests: 60 000 calls a minute, bursts of 200, 50 calls at once.</summary>
    public static readonly (string Key, string Value)[] Unbound = [("PermitsPerMinute", "60000"), ("Burst", "200"), ("MaxConcurrency", "50")];

    /// <summary>Adds SearXNG provider <paramref name="name"/> on <paramref name="fake"/>, with <paramref name="values"/> under <c>Search:Providers:{name}</c>.</summary>
    public static void AddSearxng(IDictionary<string, string?> settings, string name, FakeSearxng fake, params (string Key, string Value)[] values)
    {
        settings[$"Search:Providers:{name}:Kind"] = "searxng";
        settings[$"Search:Providers:{name}:BaseUrl"] = fake.BaseUrl.ToString();
        foreach (var (key, value) in values)
        {
            settings[$"Search:Providers:{name}:{key}"] = value;
        }
    }

    /// <summary>Provider <c>web</c> (the default) on the fake, provider <c>local</c> on the sample corpus, generous user limits.</summary>
    public static Dictionary<string, string?> Common(FakeSearxng web)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Search:DefaultProvider"] = "web",
            // Result URLs name hosts (results.example) that must never be looked up: reads stop at the guard.
            ["Net:AllowListOnly"] = "true",
            ["Search:Providers:local:Kind"] = "local",
            ["Limits:User:PermitsPerMinute"] = "60000",
            ["Limits:User:Burst"] = "200",
            ["Limits:User:MaxConcurrency"] = "100",
            ["Limits:User:MaxActiveJobs"] = "1000",
            ["Limits:User:MaxJobsPerMinute"] = "100000",
            ["Limits:User:MaxStoredJobs"] = "100000",
        };
        AddSearxng(settings, "web", web, [.. Unbound, ("MaxAttempts", "2"), ("RetryBaseDelayMs", "10"), ("TimeoutSeconds", "10")]);
        return settings;
    }
}
