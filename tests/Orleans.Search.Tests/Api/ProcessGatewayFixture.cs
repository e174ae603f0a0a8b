using System.Net.Http.Headers;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Api;

/// <summary>
/// The gateway as its own OS process (embedded silo, SQLite file), logging everything at Debug (HTTP client headers at
/// Trace) to the console this fixture reads, with API keys for an admin and a user, and provider <c>web</c> on a fake
/// SearXNG that refuses any call without the provider's own key. Keys are made of distinctive text, so a leak is found
/// by plain search.
/// </summary>
public sealed class ProcessGatewayFixture : IAsyncLifetime
{
    public const string ProviderKey = "provider-secret-5f2c9e17b3d4";

    public static readonly TestAuth.ApiKey Admin = new("gateway-secret-admin-8a61d0c2", "operator", "admin");

    public static readonly TestAuth.ApiKey User = new("gateway-secret-user-c47e93b5", "ursula");

    private readonly TempDatabase _database = new();

    public GatewayProcess Gateway { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    /// <summary>Sends the admin's key as a Bearer token.</summary>
    public HttpClient AdminHttp { get; private set; } = null!;

    /// <summary>Sends the user's key as X-Api-Key.</summary>
    public HttpClient UserHttp { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { RequiredBearerToken = ProviderKey });
        var settings = new Dictionary<string, string>(TestAuth.Settings(Admin, User))
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = Searxng.BaseUrl.ToString(),
            ["Search:Providers:web:ApiKey"] = ProviderKey,
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "100",
            ["Search:Providers:web:MaxConcurrency"] = "10",
            ["Search:Providers:web:MaxAttempts"] = "2",
            ["Search:Providers:web:RetryBaseDelayMs"] = "10",
            ["Search:Providers:web:BreakerMinimumThroughput"] = "100000",
            ["Limits:User:PermitsPerMinute"] = "60000",
            ["Limits:User:Burst"] = "100",
            ["Logging:LogLevel:Default"] = "Debug",
            ["Logging:LogLevel:System.Net.Http"] = "Trace",
        };
        Gateway = await GatewayProcess.StartAsync(_database.Folder, settings);
        AdminHttp = Gateway.Http();
        AdminHttp.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Admin.Secret);
        UserHttp = Gateway.Http();
        UserHttp.DefaultRequestHeaders.Add("X-Api-Key", User.Secret);
    }

    public async Task DisposeAsync()
    {
        AdminHttp?.Dispose();
        UserHttp?.Dispose();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
        if (Searxng is not null)
        {
            await Searxng.DisposeAsync();
        }
        _database.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ProcessGatewayCollection : ICollectionFixture<ProcessGatewayFixture>
{
    public const string Name = "api: gateway process with keys, logging at Debug";
}
