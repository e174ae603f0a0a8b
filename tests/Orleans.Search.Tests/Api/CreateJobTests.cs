using System.Net;
using Orleans.Search.Fakes;
using Orleans.Search.Queries;

namespace Orleans.Search.Tests.Api;

[Collection(OpenGatewayCollection.Name)]
public sealed class CreateJobTests(OpenGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Create_answers_202_with_Location_and_status_and_the_job_is_at_that_Location()
    {
        var queries = TestJobs.UniqueQueries("create", 2);
        using var response = await GatewayApi.CreateAsync(Http, new { queries, pages = 2 });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var created = await GatewayApi.ReadJobAsync(response);
        Assert.Matches("^[0-9a-f]{32}$", created.JobId);
        Assert.Contains(created.Status, new[] { JobStates.Pending, JobStates.Running });
        Assert.Equal("web", created.Provider);
        Assert.Equal(2, created.Pages);
        Assert.Equal(queries, created.Queries.Select(q => q.Query));
        Assert.NotNull(response.Headers.Location);
        Assert.Equal($"/api/search-jobs/{created.JobId}", response.Headers.Location.OriginalString);

        using var atLocation = await Http.GetAsync(response.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, atLocation.StatusCode);
        var fetched = await GatewayApi.ReadJobAsync(atLocation);
        Assert.Equal(created.JobId, fetched.JobId);
        Assert.Equal(created.CreatedAt, fetched.CreatedAt);

        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        Assert.Equal(JobStates.Completed, done.Status);
        Assert.Equal(100, done.Progress);
        Assert.NotNull(done.CompletedAt);
        Assert.Equal(40, done.Results.Count);
        Assert.Equal(40, done.Stats.TotalResults);
        Assert.Equal(4, done.Stats.ApiCalls);
        Assert.All(done.Queries, q => Assert.Equal((QueryStates.Completed, 2, 2, 20), (q.Status, q.PagesDone, q.PagesTotal, q.ResultCount)));
        Assert.Equal(FakeSearxng.ResultUrl(queries[0], 1, 1), done.Results[0].Url);
        Assert.All(done.Results, r => Assert.Equal("web", r.Provider));
    }

    [Fact]
    public async Task Create_on_the_local_provider_finds_the_sample_corpus()
    {
        var created = await GatewayApi.CreateJobAsync(Http, new { query = "token bucket", provider = "local" });
        Assert.Equal("local", created.Provider);

        var done = await GatewayApi.WaitForEndAsync(Http, created.JobId);
        Assert.Equal(JobStates.Completed, done.Status);
        Assert.NotEmpty(done.Results);
        Assert.All(done.Results, r => Assert.Equal(("local", "token bucket"), (r.Provider, r.Query)));
        Assert.Contains(done.Results, r => r.Url.EndsWith("token-bucket.md", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_accepts_a_provider_name_in_any_case_and_stores_the_configured_name()
    {
        var created = await GatewayApi.CreateJobAsync(Http, new { query = TestJobs.UniqueQueries("case", 1)[0], provider = "WEB" });
        Assert.Equal("web", created.Provider);
        Assert.Equal(JobStates.Completed, (await GatewayApi.WaitForEndAsync(Http, created.JobId)).Status);
    }

    [Fact]
    public async Task Create_accepts_the_boundaries_of_each_rule()
    {
        var longest = new string('x', 1000);
        var fifty = TestJobs.UniqueQueries("fifty", 50);
        var one = await GatewayApi.CreateJobAsync(Http, new { query = longest, pages = 10 });
        var many = await GatewayApi.CreateJobAsync(Http, new { queries = fifty, pages = 1 });
        Assert.Equal(longest, one.Queries.Single().Query);
        Assert.Equal(10, one.Pages);
        Assert.Equal(50, many.Queries.Count);
        Assert.Equal(JobStates.Completed, (await GatewayApi.WaitForEndAsync(Http, one.JobId)).Status);
        Assert.Equal(JobStates.Completed, (await GatewayApi.WaitForEndAsync(Http, many.JobId)).Status);
    }

    [Fact]
    public async Task Create_with_a_repeated_Idempotency_Key_returns_the_same_job_once()
    {
        var key = $"idem-{Guid.NewGuid():N}";
        var spec = new { query = TestJobs.UniqueQueries("idem", 1)[0], pages = 2 };

        var first = await GatewayApi.CreateJobAsync(Http, spec, key);
        var again = await GatewayApi.CreateJobAsync(Http, spec, key);
        await GatewayApi.WaitForEndAsync(Http, first.JobId);
        using var third = await GatewayApi.CreateAsync(Http, spec, key);

        Assert.Equal(first.JobId, again.JobId);
        Assert.Equal(first.CreatedAt, again.CreatedAt);
        Assert.Equal(HttpStatusCode.Accepted, third.StatusCode);
        Assert.Equal($"/api/search-jobs/{first.JobId}", third.Headers.Location?.OriginalString);
        var repeated = await GatewayApi.ReadJobAsync(third);
        Assert.Equal((first.JobId, JobStates.Completed), (repeated.JobId, repeated.Status));
        Assert.Single(await GatewayApi.ListAllAsync(Http), j => j.JobId == first.JobId);
        // The provider was asked once per page, not once per request.
        Assert.Equal(1, fixture.Searxng.RequestsFor(spec.query, 1));
        Assert.Equal(1, fixture.Searxng.RequestsFor(spec.query, 2));
    }

    [Fact]
    public async Task Concurrent_creates_with_one_Idempotency_Key_make_one_job()
    {
        var key = $"idem-{Guid.NewGuid():N}";
        var spec = new { query = TestJobs.UniqueQueries("idem-race", 1)[0] };

        var created = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => GatewayApi.CreateJobAsync(Http, spec, key)));

        Assert.Single(created.Select(j => j.JobId).Distinct());
        await GatewayApi.WaitForEndAsync(Http, created[0].JobId);
        Assert.Single(await GatewayApi.ListAllAsync(Http), j => j.JobId == created[0].JobId);
        Assert.Equal(1, fixture.Searxng.RequestsFor(spec.query, 1));
    }

    [Fact]
    public async Task Create_reusing_an_Idempotency_Key_with_another_body_is_422_and_the_first_job_is_unharmed()
    {
        var key = $"idem-{Guid.NewGuid():N}";
        var query = TestJobs.UniqueQueries("idem-conflict", 1)[0];
        var first = await GatewayApi.CreateJobAsync(Http, new { query }, key);
        var before = await GatewayApi.WaitForEndAsync(Http, first.JobId);

        using var otherQuery = await GatewayApi.CreateAsync(Http, new { query = query + " changed" }, key);
        using var otherPages = await GatewayApi.CreateAsync(Http, new { query, pages = 3 }, key);

        var problem = await GatewayApi.ReadProblemAsync(otherQuery, HttpStatusCode.UnprocessableEntity);
        Assert.Contains("Idempotency-Key", problem.Detail, StringComparison.Ordinal);
        Assert.Null(otherQuery.Headers.Location);
        await GatewayApi.ReadProblemAsync(otherPages, HttpStatusCode.UnprocessableEntity);
        var after = await GatewayApi.GetJobAsync(Http, first.JobId);
        Assert.Equal((before.Status, before.UpdatedAt, before.Pages, before.Results.Count), (after.Status, after.UpdatedAt, after.Pages, after.Results.Count));
        Assert.Equal(query, after.Queries.Single().Query);
    }

    [Fact]
    public async Task Get_and_debug_of_an_unknown_id_are_404_problems()
    {
        foreach (var id in new[] { Guid.NewGuid().ToString("N"), "not-a-job!", new string('a', 65) })
        {
            var escaped = Uri.EscapeDataString(id);
            foreach (var path in new[] { $"/api/search-jobs/{escaped}", $"/api/search-jobs/{escaped}/debug", $"/api/search-jobs/{escaped}/events" })
            {
                using var response = await Http.GetAsync(path);
                var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.NotFound);
                Assert.Contains(id, problem.Detail, StringComparison.Ordinal);
            }
            using var cancel = await Http.PostAsync($"/api/search-jobs/{escaped}/cancel", null);
            await GatewayApi.ReadProblemAsync(cancel, HttpStatusCode.NotFound);
        }
    }
}
