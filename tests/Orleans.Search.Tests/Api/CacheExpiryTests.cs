namespace Orleans.Search.Tests.Api;

[Collection(PromiseGatewayCollection.Name)]
public sealed class CacheExpiryTests(PromiseGatewayFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_cached_page_is_served_until_Search_Cache_Ttl_has_passed_and_fetched_again_after()
    {
        var ttl = PromiseGatewayFixture.CacheTtl;
        var query = TestJobs.UniqueQueries("ttl", 1)[0];

        var first = await RunAsync(query);
        Assert.Equal((0, 1, 1), (first.Stats.CacheHits, first.Stats.CacheMisses, first.Stats.ApiCalls));
        var fetchedAt = fixture.Searxng.ArrivalsSnapshot().Single(a => a.Query == query).ArrivedAt;

        // Ask again and again until a job misses: every one before it was a hit (no provider call), and the miss comes
        // only once the TTL has passed since the fetch (the entry's clock starts when the fetch completes, later still).
        // No caching at all, a TTL cut short or one ignored each fail here.
        var repeats = new List<JobStatus>();
        await Eventually.ReturnsAsync(async () =>
        {
            var status = await RunAsync(query);
            repeats.Add(status);
            return status;
        }, s => s.Stats.CacheMisses > 0, "a job after the TTL to miss the cache", ttl + TimeSpan.FromSeconds(30));

        var refetch = repeats[^1];
        Assert.Equal((0, 1, 1, 10), (refetch.Stats.CacheHits, refetch.Stats.CacheMisses, refetch.Stats.ApiCalls, refetch.Results.Count));
        Assert.All(repeats.SkipLast(1), s => Assert.Equal((1, 0, 0), (s.Stats.CacheHits, s.Stats.CacheMisses, s.Stats.ApiCalls)));
        var arrivals = fixture.Searxng.ArrivalsSnapshot().Where(a => a.Query == query).Select(a => a.ArrivedAt).ToList();
        Assert.Equal(2, arrivals.Count);
        Assert.True(arrivals[1] - fetchedAt >= ttl, $"fetched again {(arrivals[1] - fetchedAt).TotalMilliseconds:0} ms after the first fetch; the TTL is {ttl.TotalMilliseconds:0} ms");

        // The fresh entry is served again.
        var after = await RunAsync(query);
        Assert.Equal((1, 0, 0), (after.Stats.CacheHits, after.Stats.CacheMisses, after.Stats.ApiCalls));
    }

    private async Task<JobStatus> RunAsync(string query)
    {
        using var response = await GatewayApi.PostAsync(Http, "/api/search", GatewayApi.ToJson(new { query, waitSeconds = 60 }));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var status = await GatewayApi.ReadJobAsync(response);
        Assert.Equal(JobStates.Completed, status.Status);
        return status;
    }
}
