using System.Net;

namespace Orleans.Search.Tests.Api;

[Collection(OpenGatewayCollection.Name)]
public sealed class SearchEndpointTests(OpenGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Search_answers_200_with_results_when_done_within_waitSeconds()
    {
        var query = TestJobs.UniqueQueries("search-ok", 1)[0];
        using var response = await GatewayApi.PostAsync(Http, "/api/search", GatewayApi.ToJson(new { query, pages = 2, waitSeconds = 60 }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var status = await GatewayApi.ReadJobAsync(response);
        Assert.Equal(JobStates.Completed, status.Status);
        Assert.Equal(100, status.Progress);
        Assert.Equal(20, status.Results.Count);
        Assert.All(status.Results, r => Assert.Equal(query, r.Query));
        Assert.Equal(status.JobId, (await GatewayApi.GetJobAsync(Http, status.JobId)).JobId);
    }

    [Fact]
    public async Task Search_with_default_wait_answers_200_when_the_job_finishes_quickly()
    {
        using var response = await GatewayApi.PostAsync(Http, "/api/search", GatewayApi.ToJson(new { query = TestJobs.UniqueQueries("search-default", 1)[0] }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var status = await GatewayApi.ReadJobAsync(response);
        Assert.Equal((JobStates.Completed, 10), (status.Status, status.Results.Count));
    }

    [Fact]
    public async Task Search_answers_202_with_Location_when_not_done_within_waitSeconds()
    {
        var gated = fixture.GatedSearxng;
        var query = TestJobs.UniqueQueries("search-held", 1)[0];
        var held = new List<string>();
        gated.Options.CloseGate();
        try
        {
            using var byBody = await GatewayApi.PostAsync(Http, "/api/search", GatewayApi.ToJson(new { query, provider = "gated", waitSeconds = 1 }));
            using var byQueryString = await GatewayApi.PostAsync(Http, "/api/search?waitSeconds=0", GatewayApi.ToJson(new { query, provider = "gated" }));

            foreach (var response in new[] { byBody, byQueryString })
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                var status = await GatewayApi.ReadJobAsync(response);
                Assert.Equal(JobStates.Running, status.Status);
                Assert.Empty(status.Results);
                Assert.Equal($"/api/search-jobs/{status.JobId}", response.Headers.Location?.OriginalString);
                using var atLocation = await Http.GetAsync(response.Headers.Location);
                Assert.Equal(JobStates.Running, (await GatewayApi.ReadJobAsync(atLocation)).Status);
                held.Add(status.JobId);
            }
            // Both jobs really were waiting on the provider, on one shared call: the gate opens only once the
            // second job's lookup waits on the first one's fetch, which is held at the provider.
            await gated.WaitUntilAsync(f => f.RequestsFor(query, 1) == 1, TimeSpan.FromSeconds(30));
            await fixture.CacheLookups.WaitForSecondWaiterAsync("gated", query, 1);
        }
        finally
        {
            gated.Options.OpenGate();
        }

        Assert.Equal(2, held.Distinct().Count());
        foreach (var id in held)
        {
            var done = await GatewayApi.WaitForEndAsync(Http, id);
            Assert.Equal((JobStates.Completed, 10), (done.Status, done.Results.Count));
        }
        // Counted after both jobs ended: a second call could not come later than this.
        Assert.Equal(1, gated.RequestsFor(query, 1));
    }

    [Fact]
    public async Task Search_of_a_job_that_fails_answers_200_with_status_failed_and_the_error()
    {
        var query = $"{TestJobs.UniqueQueries("search-fail", 1)[0]} {OpenGatewayFixture.FailMarker}";
        using var response = await GatewayApi.PostAsync(Http, "/api/search", GatewayApi.ToJson(new { query, waitSeconds = 60 }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var status = await GatewayApi.ReadJobAsync(response);
        Assert.Equal(JobStates.Failed, status.Status);
        Assert.True(status.Progress < 100, $"progress {status.Progress}");
        Assert.Contains("500", status.Error, StringComparison.Ordinal);
        Assert.Empty(status.Results);
        Assert.Equal(2, status.Stats.Errors + status.Stats.Retries);

        using var cancel = await Http.PostAsync($"/api/search-jobs/{status.JobId}/cancel", null);
        var problem = await GatewayApi.ReadProblemAsync(cancel, HttpStatusCode.Conflict);
        Assert.Contains(JobStates.Failed, problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_repeated_with_an_Idempotency_Key_answers_the_same_finished_job()
    {
        var key = $"idem-{Guid.NewGuid():N}";
        var body = GatewayApi.ToJson(new { query = TestJobs.UniqueQueries("search-idem", 1)[0], waitSeconds = 60 });
        using var first = await GatewayApi.PostAsync(Http, "/api/search", body, key);
        using var again = await GatewayApi.PostAsync(Http, "/api/search", body, key);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, again.StatusCode));
        var (a, b) = (await GatewayApi.ReadJobAsync(first), await GatewayApi.ReadJobAsync(again));
        Assert.Equal(a.JobId, b.JobId);
        Assert.Equal(Described(a.Results), Described(b.Results));
    }

    private static IEnumerable<string> Described(IEnumerable<SearchResult> results) =>
        results.Select(r => $"{r.Url} {r.Title} {r.Query} {r.Page} {r.Rank} [{string.Join("|", r.Queries)}]");
}
