using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans.Search.Fakes;
using Orleans.Search.Webhooks;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Webhooks;

/// <summary>The gateway (embedded silo, SQLite file) as a real process, killed with SIGKILL between two attempts of a delivery.</summary>
public sealed class WebhookCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly TempDatabase _database = new();
    private FakeSearxng _searxng = null!;
    private FakeWebhookReceiver _receiver = null!;

    public async Task InitializeAsync()
    {
        _searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        _receiver = await FakeWebhookReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _searxng.DisposeAsync();
        _database.Dispose();
    }

    [Fact]
    public async Task A_delivery_whose_gateway_is_killed_between_attempts_is_delivered_after_a_restart()
    {
        _receiver.Script("crash", new WebhookReply(500));
        var gateway = await StartGatewayAsync();
        string jobId;
        WebhookEndpoint endpoint;
        DateTimeOffset killedAt;
        try
        {
            using var http = gateway.Http();
            using (var registered = await http.PostAsJsonAsync("/api/webhook-endpoints", new { url = _receiver.UrlFor("crash") }))
            {
                Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
                endpoint = (await registered.Content.ReadFromJsonAsync<WebhookEndpoint>(Json))!;
            }
            _receiver.Trust("crash", endpoint.Secret!);
            using (var created = await http.PostAsJsonAsync("/api/search-jobs", new { query = TestJobs.UniqueQueries("webhook-crash", 1)[0], webhook = new { endpointId = endpoint.Id } }))
            {
                Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
                jobId = (await created.Content.ReadFromJsonAsync<JobStatus>(Json))!.JobId;
            }
            // The first attempt fails; the next is 3 s away. Kill the process in that gap.
            await Eventually.TrueAsync(() => _receiver.ArrivalsFor("crash").Count >= 1, "the first attempt");
            gateway.Kill();
            killedAt = DateTimeOffset.UtcNow;
            Assert.Single(_receiver.ArrivalsFor("crash"));
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        await using var restarted = await StartGatewayAsync();
        using var after = restarted.Http();
        var deliveryId = JobWebhooks.TerminalDeliveryId(jobId, endpoint.Id);
        // Nobody calls the delivery: its reminder brings it back.
        await Eventually.TrueAsync(() => _receiver.AcceptedBy("crash").Count == 1, "the delivery to arrive after the restart", TimeSpan.FromSeconds(60));
        var arrivals = _receiver.ArrivalsFor("crash");
        output.WriteLine(string.Join("\n", arrivals.Select(a => $"{a.ArrivedAt:O} {a.AnsweredStatus} {a.Id}")));
        var accepted = Assert.Single(_receiver.AcceptedBy("crash"));
        Assert.True(accepted.ArrivedAt > killedAt, "the accepted attempt came from the restarted gateway");
        Assert.All(arrivals, a => Assert.Equal(deliveryId, a.Id));
        Assert.All(arrivals, a => Assert.True(a.Verified));
        var delivery = await Eventually.ReturnsAsync(() => after.GetFromJsonAsync<WebhookDelivery>($"/api/webhook-deliveries/{deliveryId}", Json),
            d => d!.Status == WebhookDeliveryStates.Delivered, "the delivery to be recorded as delivered");
        Assert.Equal(204, delivery!.Attempts[^1].Status);
    }

    private Task<GatewayProcess> StartGatewayAsync() =>
        GatewayProcess.StartAsync(_database.Folder, new Dictionary<string, string>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = _searxng.BaseUrl.ToString(),
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "50",
            ["Net:AllowHosts:0"] = "127.0.0.1",
            ["Webhooks:RetrySchedule:0"] = "00:00:00",
            ["Webhooks:RetrySchedule:1"] = "00:00:03",
            ["Webhooks:RetrySchedule:2"] = "00:00:03",
            ["Webhooks:ReminderPeriod"] = "00:00:01",
        });
}
