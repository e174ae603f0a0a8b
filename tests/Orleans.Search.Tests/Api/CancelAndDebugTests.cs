using System.Net;
using System.Text.Json.Nodes;
using Orleans.Search.Queries;

namespace Orleans.Search.Tests.Api;

[Collection(OpenGatewayCollection.Name)]
public sealed class CancelAndDebugTests(OpenGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Cancel_of_a_running_job_is_200_cancelled_and_keeps_the_results_found_so_far()
    {
        // 'metered' grants one permit now and the next in ten minutes: one page completes, the other waits for its permit.
        var query = TestJobs.UniqueQueries("cancel", 1)[0];
        var created = await GatewayApi.CreateJobAsync(Http, new { query, pages = 2, provider = "metered" });
        var partial = await GatewayApi.WaitForJobAsync(Http, created.JobId, s => s.Queries[0].PagesDone == 1, "one page done");
        Assert.Equal(JobStates.Running, partial.Status);

        using var response = await Http.PostAsync($"/api/search-jobs/{created.JobId}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cancelled = await GatewayApi.ReadJobAsync(response);
        Assert.Equal(JobStates.Cancelled, cancelled.Status);
        Assert.NotNull(cancelled.CompletedAt);
        Assert.True(cancelled.Progress < 100, $"progress {cancelled.Progress}");
        Assert.Equal(10, cancelled.Stats.TotalResults);

        var after = await GatewayApi.GetJobAsync(Http, created.JobId);
        Assert.Equal(JobStates.Cancelled, after.Status);
        Assert.Equal(10, after.Results.Count);
        Assert.Single(after.Results.Select(r => r.Page).Distinct());
        Assert.All(after.Results, r => Assert.Equal(query, r.Query));
        Assert.Equal(1, after.Queries[0].PagesDone);
        Assert.Equal(1, fixture.Searxng.RequestsFor(query, 1) + fixture.Searxng.RequestsFor(query, 2));

        // The permit the other page was waiting on is given back.
        await Eventually.ReturnsAsync(() => ProviderLimiterAsync("metered"), l => (int)l["inFlight"]! == 0 && (int)l["queued"]! == 0, "metered limiter idle");

        // Cancelling again changes nothing.
        using var again = await Http.PostAsync($"/api/search-jobs/{created.JobId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var second = await GatewayApi.ReadJobAsync(again);
        Assert.Equal((JobStates.Cancelled, cancelled.CompletedAt, cancelled.LastSeq), (second.Status, second.CompletedAt, second.LastSeq));
    }

    [Fact]
    public async Task Cancel_of_a_job_held_in_flight_aborts_the_provider_call_at_once_and_starts_no_other()
    {
        // Provider 'held': one call at a time, three attempts per page, a 600 s attempt timeout. One page is held at
        // the provider, the other two wait for its only slot.
        var gated = fixture.GatedSearxng;
        var query = TestJobs.UniqueQueries("cancel-held", 1)[0];
        int Requests() => Enumerable.Range(1, 3).Sum(p => gated.RequestsFor(query, p));
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(Http, new { query, pages = 3, provider = "held" });
            await gated.WaitUntilAsync(_ => Requests() == 1, TimeSpan.FromSeconds(30));
            var heldPage = Enumerable.Range(1, 3).Single(p => gated.RequestsFor(query, p) == 1);
            await Eventually.ReturnsAsync(() => ProviderLimiterAsync("held"), l => (int)l["inFlight"]! == 1 && (int)l["queued"]! == 2, "two pages queued behind the held one");
            Assert.Equal(0, gated.AbortsFor(query, heldPage));

            var cancelAt = DateTimeOffset.UtcNow;
            using var response = await Http.PostAsync($"/api/search-jobs/{created.JobId}/cancel", null);
            var cancelReturnedAt = DateTimeOffset.UtcNow;

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var cancelled = await GatewayApi.ReadJobAsync(response);
            Assert.Equal(JobStates.Cancelled, cancelled.Status);
            Assert.Equal(0, cancelled.Stats.TotalResults);
            await gated.WaitUntilAsync(f => f.AbortsFor(query, heldPage) == 1, TimeSpan.FromSeconds(30));
            // Only the cancel can explain an abort this soon: the attempt timeout is 600 s. 10 s is generous for a loaded machine.
            var abortedAt = gated.LastAbortFor(query, heldPage)!.Value;
            Assert.InRange(abortedAt, cancelAt, cancelAt + TimeSpan.FromSeconds(10));

            // The queued pages were withdrawn, and the aborted call was not retried: the limiter empties and nothing
            // reaches the provider after the cancel returned.
            await Eventually.ReturnsAsync(() => ProviderLimiterAsync("held"), l => (int)l["inFlight"]! == 0 && (int)l["queued"]! == 0, "held limiter idle");
            var debug = await GatewayApi.GetJsonAsync(Http, $"/api/search-jobs/{created.JobId}/debug");
            Assert.Equal(0, gated.ArrivalsSnapshot().Count(a => a.Query == query && a.ArrivedAt > cancelReturnedAt));
            Assert.Equal(1, Requests());
            Assert.Equal(0, gated.SuccessesFor(query, heldPage));
            Assert.True((debug["queries"]![0]!["attempts"]!.AsArray()).Count <= 1, $"attempts after the cancel: {debug}");
        }
        finally
        {
            gated.Options.OpenGate();
        }
    }

    [Fact]
    public async Task Cancel_of_a_completed_job_is_409_and_the_job_stays_completed()
    {
        var created = await GatewayApi.CreateJobAsync(Http, new { query = TestJobs.UniqueQueries("cancel-done", 1)[0] });
        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        Assert.Equal(JobStates.Completed, done.Status);

        using var response = await Http.PostAsync($"/api/search-jobs/{created.JobId}/cancel", null);

        var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.Conflict);
        Assert.Contains(JobStates.Completed, problem.Detail, StringComparison.Ordinal);
        var after = await GatewayApi.GetJobAsync(Http, created.JobId);
        Assert.Equal((JobStates.Completed, 10, done.LastSeq), (after.Status, after.Results.Count, after.LastSeq));
    }

    [Fact]
    public async Task Debug_shows_each_query_attempts_with_provider_status_codes()
    {
        var queries = TestJobs.UniqueQueries("debug", 2);
        var failing = $"{queries[1]} {OpenGatewayFixture.FailMarker}";
        var created = await GatewayApi.CreateJobAsync(Http, new { queries = new[] { queries[0], failing } });
        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        // One query failing does not fail the job; the failure is reported on the query.
        Assert.Equal(JobStates.Completed, done.Status);
        Assert.Equal((QueryStates.Completed, (string?)null), (done.Queries[0].Status, done.Queries[0].Error));
        Assert.Equal(QueryStates.Failed, done.Queries[1].Status);
        Assert.Contains("500", done.Queries[1].Error, StringComparison.Ordinal);
        Assert.Equal(2, done.Queries[1].Attempts);

        using var response = await Http.GetAsync($"/api/search-jobs/{created.JobId}/debug");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var debug = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(created.JobId, (string?)debug["jobId"]);
        Assert.Equal(JobStates.Completed, (string?)debug["status"]);
        var perQuery = debug["queries"]!.AsArray();
        Assert.Equal(2, perQuery.Count);

        var ok = perQuery[0]!;
        Assert.Equal((0, queries[0], QueryStates.Completed), ((int)ok["index"]!, (string?)ok["query"], (string?)ok["status"]));
        var okAttempt = Assert.Single(ok["attempts"]!.AsArray())!;
        Assert.Equal((1, 1, 200), ((int)okAttempt["page"]!, (int)okAttempt["attempt"]!, (int)okAttempt["statusCode"]!));
        Assert.Null(okAttempt["error"]);
        Assert.NotNull(okAttempt["startedAt"]);
        Assert.NotNull(okAttempt["durationMs"]);

        var bad = perQuery[1]!;
        Assert.Equal((1, failing, QueryStates.Failed), ((int)bad["index"]!, (string?)bad["query"], (string?)bad["status"]));
        Assert.Contains("500", (string?)bad["error"], StringComparison.Ordinal);
        var attempts = bad["attempts"]!.AsArray();
        Assert.Equal([1, 2], attempts.Select(a => (int)a!["attempt"]!));
        Assert.All(attempts, a => Assert.Equal(500, (int)a!["statusCode"]!));
        Assert.All(attempts, a => Assert.Contains("500", (string?)a!["error"], StringComparison.Ordinal));
        Assert.NotNull(attempts[0]!["retryDelayMs"]);
        Assert.Equal(2, fixture.Searxng.RequestsFor(failing, 1));
    }

    private async Task<JsonNode> ProviderLimiterAsync(string provider)
    {
        var limits = await GatewayApi.GetJsonAsync(Http, "/api/rate-limits");
        return limits["providers"]!.AsArray().Single(p => (string?)p!["key"] == $"provider:{provider}")!;
    }
}
