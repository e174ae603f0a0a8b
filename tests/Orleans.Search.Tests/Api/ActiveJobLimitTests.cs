using System.Net;

namespace Orleans.Search.Tests.Api;

[Collection(KeyedGatewayCollection.Name)]
public sealed class ActiveJobLimitTests(KeyedGatewayFixture fixture)
{
    private HttpClient Carol => fixture.Carol;

    [Fact]
    public async Task Creating_over_MaxActiveJobs_is_429_with_Retry_After_and_a_cancel_makes_room()
    {
        var gated = fixture.GatedSearxng;
        var max = KeyedGatewayFixture.MaxActiveJobs;
        var held = new List<string>();
        gated.Options.CloseGate();
        try
        {
            var key = $"limit-{Guid.NewGuid():N}";
            var spec = new { query = TestJobs.UniqueQueries("limit", 1)[0], provider = "gated" };
            held.Add((await GatewayApi.CreateJobAsync(Carol, spec, key)).JobId);
            for (var i = 1; i < max; i++)
            {
                held.Add((await GatewayApi.CreateJobAsync(Carol, new { query = TestJobs.UniqueQueries("limit", 1)[0], provider = "gated" })).JobId);
            }
            var listBefore = (await GatewayApi.ListAllAsync(Carol)).Select(j => j.JobId).ToList();

            using var over = await GatewayApi.CreateAsync(Carol, new { query = "one too many", provider = "gated" });
            using var overSearch = await GatewayApi.PostAsync(Carol, "/api/search", GatewayApi.ToJson(new { query = "one too many", provider = "gated" }));

            foreach (var response in new[] { over, overSearch })
            {
                var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.TooManyRequests);
                Assert.Contains(max.ToString(), problem.Detail, StringComparison.Ordinal);
                Assert.NotNull(response.Headers.RetryAfter);
                Assert.Null(response.Headers.Location);
            }
            Assert.Equal(listBefore, (await GatewayApi.ListAllAsync(Carol)).Select(j => j.JobId));

            // A retry of a job that exists is not a new job: it is answered, not refused.
            var retried = await GatewayApi.CreateJobAsync(Carol, spec, key);
            Assert.Equal(held[0], retried.JobId);

            // Other users are not limited by carol's jobs.
            var alices = await GatewayApi.CreateJobAsync(fixture.Alice, new { query = TestJobs.UniqueQueries("limit-alice", 1)[0] });

            using (var cancel = await Carol.PostAsync($"/api/search-jobs/{held[^1]}/cancel", null))
            {
                Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            }
            held.Add((await GatewayApi.CreateJobAsync(Carol, new { query = TestJobs.UniqueQueries("limit", 1)[0], provider = "gated" })).JobId);
            await GatewayApi.WaitForEndAsync(fixture.Alice, alices.JobId);
        }
        finally
        {
            gated.Options.OpenGate();
        }
        foreach (var id in held)
        {
            await GatewayApi.WaitForEndAsync(Carol, id);
        }
        await WaitUntilNoneActiveAsync();
    }

    [Fact]
    public async Task Concurrent_creates_never_exceed_MaxActiveJobs()
    {
        var gated = fixture.GatedSearxng;
        var max = KeyedGatewayFixture.MaxActiveJobs;
        await WaitUntilNoneActiveAsync();
        var accepted = new List<string>();
        gated.Options.CloseGate();
        try
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 3 * max).Select(i =>
                GatewayApi.CreateAsync(Carol, new { query = TestJobs.UniqueQueries("race", 1)[0], provider = "gated" })));
            foreach (var response in responses)
            {
                using (response)
                {
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        accepted.Add((await GatewayApi.ReadJobAsync(response)).JobId);
                    }
                    else
                    {
                        await GatewayApi.ReadProblemAsync(response, HttpStatusCode.TooManyRequests);
                    }
                }
            }
        }
        finally
        {
            gated.Options.OpenGate();
        }
        foreach (var id in accepted)
        {
            await GatewayApi.WaitForEndAsync(Carol, id);
        }
        await WaitUntilNoneActiveAsync();

        Assert.Equal(max, accepted.Count);
    }

    private Task WaitUntilNoneActiveAsync() =>
        Eventually.ReturnsAsync(() => GatewayApi.ListAllAsync(Carol), l => l.All(j => JobStates.IsTerminal(j.Status)), "carol has no active job");
}
