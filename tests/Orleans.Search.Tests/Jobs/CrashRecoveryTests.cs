using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans.Search.Fakes;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Jobs;

/// <summary>The gateway (embedded silo, SQLite file) as a real process, killed with SIGKILL in mid-job and started again.</summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>
    /// Restarted gateway ready → first provider call of the unfinished job. The silo's startup sweep pokes every
    /// unfinished job; generous for a loaded machine, and far below the 10-minute reminder these tests configure.
    /// </summary>
    private static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(10);

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
        var killedAt = DateTimeOffset.UtcNow;
        await using var restarted = await StartGatewayAsync();
        var readyAt = DateTimeOffset.UtcNow;
        // Nobody calls the job: it must resume by itself within seconds (the silo pokes unfinished jobs at startup;
        // its reminder is ten minutes away).
        var resumedAt = await Eventually.ReturnsAsync(
            () => Task.FromResult(_searxng.ArrivalsSnapshot()
                .Where(a => a.ArrivedAt > killedAt && a.Query is { } q && queries.Contains(q) && !completedBeforeKill.Contains((q, a.Page ?? 1)))
                .Select(a => (DateTimeOffset?)a.ArrivedAt).FirstOrDefault()),
            at => at is not null, $"the job to call the provider again within {ResumeBound.TotalSeconds:0} s of the restart, uncalled", ResumeBound);
        output.WriteLine($"first call {(resumedAt!.Value - readyAt).TotalSeconds:0.00} s after the restarted gateway was ready");
        Assert.True(resumedAt.Value - readyAt <= ResumeBound, $"the job resumed {resumedAt.Value - readyAt} after the restart");
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
        await foreach (var message in SseClient.ReadAsync(restarted.Http(), $"/api/search-jobs/{jobId}/events", lastEventId: "0"))
        {
            Assert.NotEqual("snapshot", message.Event);
            events.Add(JsonSerializer.Deserialize<JobEvent>(message.Data, Json)!);
        }
        TestJobs.AssertWellOrdered(events);
        Assert.Contains(events, e => e.Type == JobEventTypes.Resumed);
        Assert.Equal(JobEventTypes.Completed, events[^1].Type);
    }

    [Fact]
    public async Task A_job_whose_gateway_is_killed_the_instant_its_202_arrives_exists_after_restart_and_completes()
    {
        var queries = TestJobs.UniqueQueries("stored-before-202", 3);
        // The provider holds every call: nothing about the job is done, or even started, when its gateway dies.
        _searxng.Options.CloseGate();
        var gateway = await StartGatewayAsync();
        string jobId;
        try
        {
            using var http = gateway.Http();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/search-jobs") { Content = JsonContent.Create(new { queries, pages = 2 }) };
            using var created = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            // SIGKILL the moment the status line and headers are in: whatever was not durable before the 202 is gone.
            gateway.Kill();
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            jobId = created.Headers.Location!.OriginalString.Split('/')[^1];
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        await using var restarted = await StartGatewayAsync();
        using (var afterRestart = await restarted.Http().GetAsync($"/api/search-jobs/{jobId}"))
        {
            Assert.True(afterRestart.StatusCode == HttpStatusCode.OK,
                $"the job that got its 202 answered {(int)afterRestart.StatusCode} after the restart: {await afterRestart.Content.ReadAsStringAsync()}\n{restarted.Output}");
            var status = (await afterRestart.Content.ReadFromJsonAsync<JobStatus>(Json))!;
            Assert.Equal(queries, status.Queries.Select(q => q.Query));
            Assert.Equal(JobStates.Running, status.Status);
        }
        _searxng.Options.OpenGate();
        var final = await Eventually.ReturnsAsync(
            () => restarted.Http().GetFromJsonAsync<JobStatus>($"/api/search-jobs/{jobId}", Json),
            s => JobStates.IsTerminal(s!.Status), "the job to finish after the restart", TimeSpan.FromSeconds(60));
        Assert.Equal(JobStates.Completed, final!.Status);
        Assert.Equal(60, final.Results.Count);
        var list = await restarted.Http().GetFromJsonAsync<JobList>("/api/search-jobs", Json);
        Assert.Contains(list!.Items, j => j.JobId == jobId);
    }

    private Task<GatewayProcess> StartGatewayAsync() =>
        GatewayProcess.StartAsync(_database.Folder, new Dictionary<string, string>
        {
            // Nothing but the startup sweep may resume a job within these tests.
            ["Jobs:ResumeReminderPeriod"] = "00:10:00",
            ["Jobs:StallCheckPeriod"] = "00:10:00",
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = _searxng.BaseUrl.ToString(),
            ["Search:Providers:web:MaxConcurrency"] = "4",
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "50",
        });
}
