using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// A real gateway (embedded silo, SQLite) over HTTP with three users' API keys, a loopback SearXNG fake and a loopback
/// OpenAI-compatible fake behind two LLM providers: <c>main</c> (no quota) and <c>quota</c> (the requests and tokens per
/// minute that <see cref="ConfigureQuota"/> makes the fake enforce).
/// </summary>
public sealed class ResearchGatewayFixture : IAsyncLifetime
{
    public const decimal InputPrice = 2.5m, OutputPrice = 10m;
    public const double QuotaRequestsPerMinute = 60, QuotaTokensPerMinute = 30_000, QuotaBurstSeconds = 10;
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    public static readonly IReadOnlyList<string> Users = ["user-a", "user-b", "user-c"];

    private GatewayHost? _gateway;

    public FakeOpenAi Llm { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    public GatewayHost Gateway => _gateway!;

    public async Task InitializeAsync()
    {
        Llm = await FakeOpenAi.StartAsync(new FakeOpenAiOptions());
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions());
        var api = Llm.ApiBaseUrl.ToString();
        var settings = new Dictionary<string, string?>
        {
            ["Net:AllowListOnly"] = "true",
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = Searxng.BaseUrl.ToString(),
            ["Llm:DefaultProvider"] = "main",
            ["Llm:Providers:main:BaseUrl"] = api,
            ["Llm:Providers:main:Model"] = "main-model",
            ["Llm:Providers:quota:BaseUrl"] = api,
            ["Llm:Providers:quota:Model"] = "quota-model",
            ["Llm:Providers:quota:RequestsPerMinute"] = QuotaRequestsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Providers:quota:TokensPerMinute"] = QuotaTokensPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Providers:quota:BurstSeconds"] = QuotaBurstSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Llm:Prices:main-model:InputPerMillion"] = "2.5",
            ["Llm:Prices:main-model:OutputPerMillion"] = "10",
            ["Llm:Prices:quota-model:InputPerMillion"] = "2.5",
            ["Llm:Prices:quota-model:OutputPerMillion"] = "10",
            // Small pieces, so an answer streams as several deltas.
            ["Research:AnswerDeltaChars"] = "10",
        };
        foreach (var (key, value) in TestAuth.Settings([.. Users.Select(u => new TestAuth.ApiKey(KeyOf(u), u))]))
        {
            settings[key] = value;
        }
        _gateway = await GatewayHost.StartAsync(settings);
    }

    private static string KeyOf(string user) => $"key-of-{user}-0123456789abcdef";

    /// <summary>An HTTP client of the gateway that presents <paramref name="user"/>'s key.</summary>
    public HttpClient As(string user = "user-a")
    {
        var http = new HttpClient { BaseAddress = Gateway.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", KeyOf(user));
        return http;
    }

    /// <summary>Forgets the fakes' logs and bills and gives the LLM fake back its defaults (no quota, no script).</summary>
    public FakeOpenAi FreshLlm()
    {
        var o = Llm.Options;
        o.Reply = null;
        o.TimeToFirstToken = TimeSpan.Zero;
        o.TokensPerSecond = 0;
        o.RequestsPerMinute = 0;
        o.TokensPerMinute = 0;
        o.BurstSeconds = 60;
        Llm.Reset();
        return Llm;
    }

    /// <summary>The fake enforces exactly what the <c>quota</c> provider is configured with.</summary>
    public void ConfigureQuota()
    {
        Llm.Options.RequestsPerMinute = QuotaRequestsPerMinute;
        Llm.Options.TokensPerMinute = QuotaTokensPerMinute;
        Llm.Options.BurstSeconds = QuotaBurstSeconds;
    }

    public static async Task<string> CreateAsync(HttpClient http, object body)
    {
        using var created = await http.PostAsJsonAsync("/api/search-jobs", body);
        Assert.True(created.StatusCode == System.Net.HttpStatusCode.Accepted, $"create answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
        return (await created.Content.ReadFromJsonAsync<JobStatus>(Json))!.JobId;
    }

    public static async Task<JobStatus> StatusAsync(HttpClient http, string jobId) => (await http.GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json))!;

    public static async Task<JobStatus> EndAsync(HttpClient http, string jobId, TimeSpan? timeout = null) =>
        await Eventually.ReturnsAsync(() => StatusAsync(http, jobId), s => JobStates.IsTerminal(s.Status), $"job {jobId} to end", timeout ?? TimeSpan.FromSeconds(90));

    public static async Task<JobDebug> DebugAsync(HttpClient http, string jobId) =>
        (await http.GetFromJsonAsync<JobDebug>($"/api/search-jobs/{jobId}/debug", Json))!;

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
        await Llm.DisposeAsync();
        await Searxng.DisposeAsync();
    }
}
