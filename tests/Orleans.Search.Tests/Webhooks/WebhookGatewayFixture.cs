using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans.Search.Fakes;
using Orleans.Search.Tests.Api;
using Orleans.Search.Webhooks;

namespace Orleans.Search.Tests.Webhooks;

/// <summary>
/// One real gateway (embedded silo, SQLite) with a fake SearXNG as provider <c>web</c>, a loopback webhook receiver on
/// <c>Net:AllowHosts</c>, a fast retry schedule (4 attempts: at once, then 200 ms apart) and one API key per test user,
/// so each test's endpoints and failed store are its own.
/// </summary>
public sealed class WebhookGatewayFixture : IAsyncLifetime
{
    public const int Attempts = 4;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly string[] Users = ["signer", "recovers", "never", "gone", "patient", "refused", "racer", "owner", "deleter", "stranger"];

    public GatewayHost Gateway { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    public FakeWebhookReceiver Receiver { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Receiver = await FakeWebhookReceiver.StartAsync();
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        var settings = GatewaySettings.Common(Searxng);
        foreach (var (key, value) in TestAuth.Settings([.. Users.Select(Key)]))
        {
            settings[key] = value;
        }
        settings["Net:AllowHosts:0"] = "127.0.0.1";
        // Registration's address rules apply (not only the allow list); these tests name IP literals only, so no lookups.
        settings["Net:AllowListOnly"] = "false";
        settings["Webhooks:RetrySchedule:0"] = "00:00:00";
        settings["Webhooks:RetrySchedule:1"] = "00:00:00.200";
        settings["Webhooks:RetrySchedule:2"] = "00:00:00.200";
        settings["Webhooks:RetrySchedule:3"] = "00:00:00.200";
        settings["Webhooks:ReminderPeriod"] = "00:00:01";
        Gateway = await GatewayHost.StartAsync(settings);
    }

    public Task DisposeAsync() => FixtureParts.DisposeAsync(Gateway, Searxng, Receiver);

    private static TestAuth.ApiKey Key(string user) => new($"webhook-test-key-{user}-5d1e", user);

    /// <summary>A client calling as <paramref name="user"/>.</summary>
    public HttpClient As(string user)
    {
        var http = new HttpClient { BaseAddress = Gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Add("X-Api-Key", Key(user).Secret);
        return http;
    }

    /// <summary>Registers the receiver <paramref name="name"/> and tells it the endpoint's secret.</summary>
    public async Task<WebhookEndpoint> RegisterAsync(HttpClient http, string name, params string[] events)
    {
        using var response = await http.PostAsJsonAsync("/api/webhook-endpoints",
            events.Length == 0 ? new { url = Receiver.UrlFor(name), events = (string[]?)null } : new { url = Receiver.UrlFor(name), events = (string[]?)events });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"registering {name} answered {(int)response.StatusCode}: {text}");
        var endpoint = JsonSerializer.Deserialize<WebhookEndpoint>(text, Json)!;
        Assert.Equal($"/api/webhook-endpoints/{endpoint.Id}", response.Headers.Location?.OriginalString);
        Receiver.Trust(name, endpoint.Secret!);
        return endpoint;
    }

    /// <summary>Creates a one-query job (with <paramref name="endpointId"/> as its webhook when given) and returns its id.</summary>
    public async Task<string> CreateJobAsync(HttpClient http, string? endpointId)
    {
        var query = TestJobs.UniqueQueries("webhook", 1)[0];
        using var response = await http.PostAsJsonAsync("/api/search-jobs",
            endpointId is null ? new { query, webhook = (object?)null } : new { query, webhook = (object?)new { endpointId } });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"creating a job answered {(int)response.StatusCode}: {text}");
        return JsonSerializer.Deserialize<JobStatus>(text, Json)!.JobId;
    }

    public static async Task<JobStatus> EndedAsync(HttpClient http, string jobId) =>
        (await Eventually.ReturnsAsync(() => http.GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json),
            s => JobStates.IsTerminal(s!.Status), $"job {jobId} to end"))!;

    /// <summary>The arrivals at <paramref name="name"/> that carry job <paramref name="jobId"/>.</summary>
    public IReadOnlyList<WebhookArrival> ArrivalsOf(string name, string jobId) =>
        Receiver.ArrivalsFor(name).Where(a => JobIdOf(a) == jobId).ToList();

    public static string? JobIdOf(WebhookArrival arrival)
    {
        using var body = JsonDocument.Parse(arrival.Body);
        return body.RootElement.TryGetProperty("data", out var data) && data.TryGetProperty("jobId", out var id) ? id.GetString() : null;
    }

    public static async Task<WebhookDelivery> DeliveryAsync(HttpClient http, string deliveryId) =>
        (await http.GetFromJsonAsync<WebhookDelivery>($"/api/webhook-deliveries/{deliveryId}", Json))!;

    /// <summary>
    /// The delivery once it exists. A job's status shows it ended as soon as that is stored; its deliveries are enqueued
    /// right after, so a caller that looks at once may find none yet (404).
    /// </summary>
    public static Task<WebhookDelivery?> DeliveryWhenStoredAsync(HttpClient http, string deliveryId, Func<WebhookDelivery, bool> condition, string what) =>
        Eventually.ReturnsAsync(async () =>
        {
            using var response = await http.GetAsync($"/api/webhook-deliveries/{deliveryId}");
            return response.StatusCode == HttpStatusCode.NotFound ? null : await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<WebhookDelivery>(Json);
        }, d => d is not null && condition(d), what);

    public static async Task<WebhookDeliveryList> FailedAsync(HttpClient http) =>
        (await http.GetFromJsonAsync<WebhookDeliveryList>("/api/webhook-deliveries?status=failed", Json))!;
}
