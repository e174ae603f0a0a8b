using System.Net.Http.Headers;
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
        settings["Search:Providers:gated:Kind"] = "searxng";
        settings["Search:Providers:gated:BaseUrl"] = GatedSearxng.BaseUrl.ToString();
        settings["Search:Providers:gated:PermitsPerMinute"] = "60000";
        settings["Search:Providers:gated:Burst"] = "200";
        settings["Search:Providers:gated:MaxConcurrency"] = "50";
        settings["Search:Providers:gated:MaxAttempts"] = "1";
        settings["Search:Providers:gated:TimeoutSeconds"] = "120";
        // A held call here can end only by a cancel (the attempt timeout is far away), and a retry would show.
        settings["Search:Providers:held:Kind"] = "searxng";
        settings["Search:Providers:held:BaseUrl"] = GatedSearxng.BaseUrl.ToString();
        settings["Search:Providers:held:PermitsPerMinute"] = "60000";
        settings["Search:Providers:held:Burst"] = "100";
        settings["Search:Providers:held:MaxConcurrency"] = "1";
        settings["Search:Providers:held:MaxAttempts"] = "3";
        settings["Search:Providers:held:RetryBaseDelayMs"] = "10";
        settings["Search:Providers:held:TimeoutSeconds"] = "600";
        // A token per 100 s and no jitter headroom: after its calls the limiter's numbers are known to two decimals.
        settings["Search:Providers:counted:Kind"] = "searxng";
        settings["Search:Providers:counted:BaseUrl"] = Searxng.BaseUrl.ToString();
        settings["Search:Providers:counted:PermitsPerMinute"] = "0.6";
        settings["Search:Providers:counted:Burst"] = "5";
        settings["Search:Providers:counted:JitterToleranceMs"] = "0";
        settings["Search:Providers:counted:MaxConcurrency"] = "3";
        settings["Search:Providers:counted:MaxAttempts"] = "1";
        settings["Search:Providers:metered:Kind"] = "searxng";
        settings["Search:Providers:metered:BaseUrl"] = Searxng.BaseUrl.ToString();
        settings["Search:Providers:metered:PermitsPerMinute"] = "0.1";
        settings["Search:Providers:metered:Burst"] = "1";
        settings["Search:Providers:metered:MaxConcurrency"] = "5";
        settings["Search:Providers:metered:MaxAttempts"] = "1";
        Gateway = await GatewayHost.StartAsync(settings, CacheLookups.AddTo);
    }

    public async Task DisposeAsync()
    {
        GatedSearxng?.Options.OpenGate();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        if (GatedSearxng is not null)
        {
            await GatedSearxng.DisposeAsync();
        }
        if (Searxng is not null)
        {
            await Searxng.DisposeAsync();
        }
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
        settings["Search:Providers:gated:Kind"] = "searxng";
        settings["Search:Providers:gated:BaseUrl"] = GatedSearxng.BaseUrl.ToString();
        settings["Search:Providers:gated:MaxAttempts"] = "1";
        settings["Search:Providers:gated:TimeoutSeconds"] = "120";
        Gateway = await GatewayHost.StartAsync(settings);
        Alice = Client(c => c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AliceKey));
        Bob = Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", BobKey));
        Carol = Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", CarolKey));
        Ops = Client(c => c.DefaultRequestHeaders.Add("X-Api-Key", OpsKey));
    }

    /// <summary>A client of this gateway with its own headers.</summary>
    public HttpClient Client(Action<HttpClient> configure)
    {
        var client = new HttpClient { BaseAddress = Gateway.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
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
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        if (GatedSearxng is not null)
        {
            await GatedSearxng.DisposeAsync();
        }
        if (Searxng is not null)
        {
            await Searxng.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class KeyedGatewayCollection : ICollectionFixture<KeyedGatewayFixture>
{
    public const string Name = "api: gateway with keys";
}

/// <summary>API keys as the gateway is configured with them: the hex SHA-256 of the key, never the key itself.</summary>
internal static class TestKeys
{
    public static string Sha256(string key) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));

    /// <summary>Adds <c>Auth:Keys:{n}</c> for <paramref name="key"/>.</summary>
    public static void Configure(IDictionary<string, string?> settings, int n, string key, string user, string? role = null)
    {
        settings[$"Auth:Keys:{n}:Sha256"] = Sha256(key);
        settings[$"Auth:Keys:{n}:User"] = user;
        if (role is not null)
        {
            settings[$"Auth:Keys:{n}:Role"] = role;
        }
    }
}

internal static class GatewaySettings
{
    /// <summary>Provider <c>web</c> (the default) on the fake, provider <c>local</c> on the sample corpus, generous user limits.</summary>
    public static Dictionary<string, string?> Common(FakeSearxng web) => new()
    {
        ["Search:DefaultProvider"] = "web",
        // Result URLs name hosts (results.example) that must never be looked up: reads stop at the guard.
        ["Net:AllowListOnly"] = "true",
        ["Search:Providers:web:Kind"] = "searxng",
        ["Search:Providers:web:BaseUrl"] = web.BaseUrl.ToString(),
        ["Search:Providers:web:PermitsPerMinute"] = "60000",
        ["Search:Providers:web:Burst"] = "200",
        ["Search:Providers:web:MaxConcurrency"] = "50",
        ["Search:Providers:web:MaxAttempts"] = "2",
        ["Search:Providers:web:RetryBaseDelayMs"] = "10",
        ["Search:Providers:web:TimeoutSeconds"] = "10",
        ["Search:Providers:local:Kind"] = "local",
        ["Limits:User:PermitsPerMinute"] = "60000",
        ["Limits:User:Burst"] = "200",
        ["Limits:User:MaxConcurrency"] = "100",
        ["Limits:User:MaxActiveJobs"] = "1000",
        ["Limits:User:MaxJobsPerMinute"] = "100000",
        ["Limits:User:MaxStoredJobs"] = "100000",
    };
}
