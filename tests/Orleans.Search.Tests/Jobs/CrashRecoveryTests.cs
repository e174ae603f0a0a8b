using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Jobs;

/// <summary>The gateway (embedded silo, SQLite file) as a real process, killed with SIGKILL in mid-job and started again.</summary>
public sealed class CrashRecoveryTests : IAsyncLifetime
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly TempDatabase _database = new();
    private FakeSearxng _searxng = null!;

    public async Task InitializeAsync() =>
        _searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(30) });

    public async Task DisposeAsync()
    {
        _searxng.Options.OpenGate();
        await _searxng.DisposeAsync();
        _database.Dispose();
    }

    [Fact]
    public async Task A_job_killed_in_mid_run_completes_by_itself_after_restart_without_refetching_a_completed_page()
    {
        var queries = TestJobs.UniqueQueries("crash", 20);
        var gateway = await StartGatewayAsync();
        string jobId;
        HashSet<(string, int)> completedBeforeKill;
        try
        {
            var created = await gateway.Http().PostAsJsonAsync("/api/search-jobs", new { queries, pages = 2 });
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            jobId = (await created.Content.ReadFromJsonAsync<JobStatus>(Json))!.JobId;

            // Mid-run: some pages done, then freeze the provider so what is done stays done while we look.
            await Eventually.TrueAsync(() => _searxng.SuccessCountsSnapshot().Count(p => queries.Contains(p.Key.Query)) >= 8, "some pages to complete");
            _searxng.Options.CloseGate();
            completedBeforeKill = await Eventually.ReturnsAsync(async () =>
            {
                var status = await gateway.Http().GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json);
                var fetched = _searxng.SuccessCountsSnapshot().Keys.Where(k => queries.Contains(k.Query)).ToHashSet();
                return (Done: status!.Queries.Sum(q => q.PagesDone), Fetched: fetched);
            }, x => x.Done == x.Fetched.Count, "every fetched page to be checkpointed and reported").ContinueWith(t => t.Result.Fetched);
            Assert.InRange(completedBeforeKill.Count, 8, 39);

            gateway.Kill();
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        _searxng.Options.OpenGate();
        await using var restarted = await StartGatewayAsync();
        // Nobody calls the job: it must resume by itself (the silo pokes unfinished jobs at startup).
        await Eventually.TrueAsync(() => queries.All(q => _searxng.SuccessesFor(q, 1) >= 1 && _searxng.SuccessesFor(q, 2) >= 1),
            "every page to be fetched after the restart without any call to the job", TimeSpan.FromSeconds(90));
        var final = await Eventually.ReturnsAsync(
            () => restarted.Http().GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json),
            s => JobStates.IsTerminal(s!.Status), "the job to finish after the restart", TimeSpan.FromSeconds(90));

        Assert.Equal(JobStates.Completed, final!.Status);
        Assert.Equal(400, final.Results.Count);
        Assert.Equal(100, final.Progress);
        foreach (var (query, page) in completedBeforeKill)
        {
            Assert.True(_searxng.RequestsFor(query, page) == 1, $"'{query}' page {page} was completed before the kill and fetched {_searxng.RequestsFor(query, page)} times");
        }
        foreach (var query in queries)
        {
            Assert.Equal(20, final.Results.Count(r => r.Query == query));
        }

        // The event log across the crash: strictly increasing ids, progress never falling, a 'resumed' marker.
        var events = new List<JobEvent>();
        await foreach (var message in SseClient.ReadAsync(restarted.Http(), $"/api/search-jobs/{jobId}/events"))
        {
            if (message.Event != "snapshot")
            {
                events.Add(JsonSerializer.Deserialize<JobEvent>(message.Data, Json)!);
            }
        }
        TestJobs.AssertWellOrdered(events);
        Assert.Contains(events, e => e.Type == JobEventTypes.Resumed);
        Assert.Equal(JobEventTypes.Completed, events[^1].Type);
    }

    private Task<GatewayProcess> StartGatewayAsync() =>
        GatewayProcess.StartAsync(_database.Folder, new Dictionary<string, string>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = _searxng.BaseUrl.ToString(),
            ["Search:Providers:web:MaxConcurrency"] = "4",
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "50",
        });
}
