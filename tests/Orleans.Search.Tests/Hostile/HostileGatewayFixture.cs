using System.Globalization;
using System.Net.Http.Headers;
using Orleans.Search.Fakes;
using Orleans.Search.Fakes.Hostile;

namespace Orleans.Search.Tests.Hostile;

/// <summary>
/// Two real gateway processes (embedded silo, SQLite file each) with API keys. <see cref="Main"/> takes the hostile
/// corpus: its HTTP and admission limits are set far above what the corpus sends, so no case is throttled and each
/// answer is the one its input earns; its memory and CPU are measured. <see cref="Throttled"/> has small limits that
/// the floods push past on purpose. Providers: <c>local</c> (the sample corpus, the default), <c>web</c> (a fake
/// SearXNG) and, on the throttled gateway, <c>gated</c> (a second fake whose gate holds jobs running).
/// </summary>
public sealed class HostileGatewayFixture : IAsyncLifetime
{
    public const string AliceKey = "hostile-alice-6f1d2c0e9b7a4e58";
    public const string MalloryKey = "hostile-mallory-3a9e7c5b1d2f4068";

    /// <summary>Flood users of the throttled gateway, one per flood so each starts with its limits untouched.</summary>
    public static readonly IReadOnlyDictionary<HostileFloodKind, string> FloodKeys = new Dictionary<HostileFloodKind, string>
    {
        [HostileFloodKind.Creates] = "flood-creates-8c2e41d7",
        [HostileFloodKind.Streams] = "flood-streams-51b9f0aa",
        [HostileFloodKind.SyncWaits] = "flood-waits-0d7c3e62",
        [HostileFloodKind.UserRequests] = "flood-requests-e4a81b3f",
    };

    /// <summary>
    /// The throttled gateway's limits. Every flood comes from its own loopback address, so 127.0.0.1 only polls for
    /// readiness: the per-address limit leaves it 30 s of polling at 10 a second even if health checks count.
    /// </summary>
    public const int ThrottledPermitsPerMinute = 40;
    public const int ThrottledPermitsPerMinutePerAddress = 300;
    public const int ThrottledMaxJobsPerMinute = 8;
    public const int ThrottledMaxOpenStreams = 3;

    private readonly TempDatabase _mainDatabase = new();
    private readonly TempDatabase _throttledDatabase = new();

    public GatewayProcess Main { get; private set; } = null!;

    public GatewayProcess Throttled { get; private set; } = null!;

    public FakeSearxng Web { get; private set; } = null!;

    public FakeSearxng Gated { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Web = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        Gated = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });

        var main = Common(_mainDatabase, [("alice", AliceKey), ("mallory", MalloryKey)]);
        main["Http:PermitsPerMinute"] = "1000000";
        main["Http:PermitsPerMinutePerAddress"] = "1000000";
        main["Limits:User:MaxJobsPerMinute"] = "100000";
        main["Limits:User:MaxOpenStreams"] = "1000";

        var throttled = Common(_throttledDatabase, FloodKeys.Select(k => (k.Key.ToString().ToLowerInvariant(), k.Value)));
        throttled["Http:PermitsPerMinute"] = ThrottledPermitsPerMinute.ToString(CultureInfo.InvariantCulture);
        throttled["Http:PermitsPerMinutePerAddress"] = ThrottledPermitsPerMinutePerAddress.ToString(CultureInfo.InvariantCulture);
        throttled["Limits:User:MaxJobsPerMinute"] = ThrottledMaxJobsPerMinute.ToString(CultureInfo.InvariantCulture);
        throttled["Limits:User:MaxOpenStreams"] = ThrottledMaxOpenStreams.ToString(CultureInfo.InvariantCulture);
        throttled["Search:Providers:gated:Kind"] = "searxng";
        throttled["Search:Providers:gated:BaseUrl"] = Gated.BaseUrl.ToString();
        throttled["Search:Providers:gated:PermitsPerMinute"] = "60000";
        throttled["Search:Providers:gated:Burst"] = "100";
        throttled["Search:Providers:gated:MaxConcurrency"] = "50";
        throttled["Search:Providers:gated:MaxAttempts"] = "1";
        throttled["Search:Providers:gated:TimeoutSeconds"] = "120";

        // Side by side: each start is mostly waiting for its silo.
        var starting = new[]
        {
            GatewayProcess.StartAsync(_mainDatabase.Folder, main),
            GatewayProcess.StartAsync(_throttledDatabase.Folder, throttled),
        };
        try
        {
            var started = await Task.WhenAll(starting);
            (Main, Throttled) = (started[0], started[1]);
        }
        catch
        {
            foreach (var task in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await task.Result.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>A client of <paramref name="gateway"/> that sends <paramref name="key"/> as a Bearer token.</summary>
    public static HttpClient Client(GatewayProcess gateway, string? key)
    {
        var client = gateway.Http();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return client;
    }

    public async Task DisposeAsync()
    {
        Gated?.Options.OpenGate();
        if (Main is not null)
        {
            await Main.DisposeAsync();
        }
        if (Throttled is not null)
        {
            await Throttled.DisposeAsync();
        }
        if (Web is not null)
        {
            await Web.DisposeAsync();
        }
        if (Gated is not null)
        {
            await Gated.DisposeAsync();
        }
        _mainDatabase.Dispose();
        _throttledDatabase.Dispose();
    }

    /// <summary>Keys are configured as the hex SHA-256 of the key, never the key itself.</summary>
    public static string Sha256Hex(string key) => TestAuth.Sha256(key);

    private Dictionary<string, string> Common(TempDatabase database, IEnumerable<(string User, string Key)> keys)
    {
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:Orleans"] = database.ConnectionString,
            ["Cluster:ClusterId"] = $"hostile-{Guid.NewGuid():N}",
            ["Auth:Mode"] = "keys",
            ["Search:DefaultProvider"] = "local",
            ["Search:Providers:local:Kind"] = "local",
            ["Search:Providers:local:PermitsPerMinute"] = "60000",
            ["Search:Providers:local:Burst"] = "200",
            ["Search:Providers:local:MaxConcurrency"] = "20",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = Web.BaseUrl.ToString(),
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "200",
            ["Search:Providers:web:MaxConcurrency"] = "50",
            ["Search:Providers:web:TimeoutSeconds"] = "10",
            ["Limits:User:PermitsPerMinute"] = "60000",
            ["Limits:User:Burst"] = "200",
            ["Limits:User:MaxConcurrency"] = "100",
            ["Limits:User:MaxActiveJobs"] = "1000",
        };
        foreach (var (name, value) in keys.SelectMany((k, n) => TestAuth.KeySettings(n, new TestAuth.ApiKey(k.Key, k.User))))
        {
            settings[name] = value;
        }
        return settings;
    }
}
