using System.Net;
using System.Net.Http.Json;
using Orleans.Search.Fakes;
using Orleans.Search.RateLimiting;

namespace Orleans.Search.Tests.RateLimiting;

/// <summary>One gateway (embedded silo) with providers wired to loopback fakes that throttle, fail and count.</summary>
public sealed class ResilienceFixture : IAsyncLifetime
{
    public FakeSearxng Web { get; private set; } = null!;

    /// <summary>Polices a quota of one call per 2 s, so it answers 429 with Retry-After: 2.</summary>
    public FakeSearxng Strict { get; private set; } = null!;

    public GatewayHost Gateway { get; private set; } = null!;

    /// <summary>Sees lookups arrive at the result cache grains, and which of them wait on another's fetch.</summary>
    public CacheLookupProbe CacheLookups { get; } = new();

    public async Task InitializeAsync()
    {
        Web = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(50) });
        Strict = await FakeSearxng.StartAsync(new FakeSearxngOptions { RatePerSecond = 0.5, Burst = 1 });
        Gateway = await GatewayHost.StartAsync(new Dictionary<string, string?>
        {
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = Web.BaseUrl.ToString(),
            ["Search:Providers:web:BreakerMinimumThroughput"] = "100000",
            ["Search:Providers:fragile:Kind"] = "searxng",
            ["Search:Providers:fragile:BaseUrl"] = Web.BaseUrl.ToString(),
            ["Search:Providers:fragile:MaxAttempts"] = "1",
            ["Search:Providers:fragile:MaxConcurrency"] = "1",
            ["Search:Providers:fragile:BreakerMinimumThroughput"] = "4",
            ["Search:Providers:fragile:BreakerFailureRatio"] = "0.5",
            ["Search:Providers:fragile:BreakerBreakSeconds"] = "2",
            ["Search:Providers:throttled:Kind"] = "searxng",
            ["Search:Providers:throttled:BaseUrl"] = Strict.BaseUrl.ToString(),
            ["Search:Providers:throttled:MaxConcurrency"] = "1",
            ["Search:Providers:throttled:PermitsPerMinute"] = "6000",
            ["Search:Providers:throttled:MaxAttempts"] = "4",
            ["Search:Providers:throttled:BreakerMinimumThroughput"] = "100000",
            ["Limits:User:MaxActiveJobs"] = "1000",
            ["Limits:User:MaxJobsPerMinute"] = "100000",
            ["Limits:User:MaxStoredJobs"] = "100000",
        }, CacheLookups.AddTo);
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Web.DisposeAsync();
        await Strict.DisposeAsync();
    }

    public async Task<JobStatus> RunAsync(object spec)
    {
        var created = await Gateway.Http.PostAsJsonAsync("/api/search-jobs", spec);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var job = (await created.Content.ReadFromJsonAsync<JobStatus>())!;
        return (await Eventually.ReturnsAsync(() => Gateway.Http.GetFromJsonAsync<JobStatus>($"/api/search-jobs/{job.JobId}"),
            s => JobStates.IsTerminal(s!.Status), $"job {job.JobId} to end"))!;
    }

    public async Task<LimiterSnapshot> ProviderLimiterAsync(string provider)
    {
        var view = await Gateway.Http.GetFromJsonAsync<RateLimitsView>("/api/rate-limits");
        return view!.Providers.Single(p => p.Key == LimiterKeys.Provider(provider));
    }

    public sealed record RateLimitsView(LimiterSnapshot User, List<LimiterSnapshot> Providers);
}

public sealed class ResilienceTests(ResilienceFixture fixture) : IClassFixture<ResilienceFixture>
{
    [Fact]
    public async Task After_a_429_with_Retry_After_2_nobody_calls_the_provider_for_2_seconds()
    {
        var queries = TestJobs.UniqueQueries("throttled", 3);
        var status = await fixture.RunAsync(new { queries, provider = "throttled" });
        Assert.Equal(JobStates.Completed, status.Status);
        Assert.Equal(30, status.Stats.TotalResults);

        var arrivals = fixture.Strict.ArrivalsSnapshot().Where(a => a.Query is { } q && queries.Contains(q)).OrderBy(a => a.ArrivedAt).ToList();
        Assert.True(fixture.Strict.RateLimitedResponses > 0, "the provider did throttle");
        Assert.True(status.Stats.Retries > 0);
        // Every call that follows another within less than 2 s is the one that got the 429; the call after it waited.
        for (var i = 1; i < arrivals.Count; i++)
        {
            var gap = arrivals[i].ArrivedAt - arrivals[i - 1].ArrivedAt;
            Assert.True(gap >= TimeSpan.FromSeconds(1.95) || i == 1 || arrivals[i - 1].ArrivedAt - arrivals[i - 2].ArrivedAt >= TimeSpan.FromSeconds(1.95),
                $"call {i} came {gap.TotalMilliseconds:0} ms after a throttled call");
        }
        var limiter = await fixture.ProviderLimiterAsync("throttled");
        Assert.True(limiter.Throttled > 0, "the limiter heard the 429s");
    }

    [Fact]
    public async Task A_failing_provider_opens_its_breaker_fails_fast_and_closes_after_recovery()
    {
        var queries = TestJobs.UniqueQueries("breaker", 8);
        fixture.Web.Options.FailQueries = q => queries.Contains(q);
        JobStatus failed;
        try
        {
            failed = await fixture.RunAsync(new { queries, provider = "fragile" });
        }
        finally
        {
            fixture.Web.Options.FailQueries = null;
        }
        Assert.Equal(JobStates.Failed, failed.Status);
        var refused = failed.Queries.Where(q => q.Error!.Contains("circuit breaker is open")).ToList();
        Assert.NotEmpty(refused);
        Assert.True(queries.Sum(q => fixture.Web.RequestsFor(q, 1)) < queries.Count, "open breaker refuses calls without sending them");
        Assert.Equal(CircuitState.Open, (await fixture.ProviderLimiterAsync("fragile")).Circuit);

        // Recovery: after the break, a trial call succeeds and the breaker closes.
        var healthy = TestJobs.UniqueQueries("recovered", 1);
        await Eventually.ReturnsAsync(async () => (await fixture.RunAsync(new { queries = healthy, provider = "fragile", cache = false })).Status,
            s => s == JobStates.Completed, "a job on the recovered provider", TimeSpan.FromSeconds(30));
        await Eventually.ReturnsAsync(() => fixture.ProviderLimiterAsync("fragile"), l => l.Circuit == CircuitState.Closed, "the breaker to close");
    }

    /// <summary>The same query to the cache (only whitespace differs), another to the provider.</summary>
    private static string Respaced(string query) => "  " + query.Replace(" ", "   ", StringComparison.Ordinal) + " ";

    [Fact]
    public async Task Identical_queries_in_flight_cost_one_call_and_a_later_job_is_served_from_the_cache()
    {
        var query = TestJobs.UniqueQueries("cached", 1)[0];
        // The same query as the cache sees it: spacing does not make it different (case does).
        var variant = Respaced(query);
        int Calls() => fixture.Web.RequestsFor(query, 1) + fixture.Web.RequestsFor(variant, 1);
        Task<JobStatus> first, second;
        fixture.Web.Options.CloseGate();
        try
        {
            first = fixture.RunAsync(new { query });
            // The first job's call is held at the provider; only then does the second job ask the cache.
            await fixture.Web.WaitUntilAsync(f => f.RequestsFor(query, 1) == 1, TimeSpan.FromSeconds(30));
            second = fixture.RunAsync(new { query = variant });
            // Released only once the second job's lookup is waiting on the first one's fetch, so it has had every
            // chance to make a call of its own.
            await fixture.CacheLookups.WaitForSecondWaiterAsync("web", query, 1);
        }
        finally
        {
            fixture.Web.Options.OpenGate();
        }
        var (a, b) = (await first, await second);

        // Counted after both jobs ended: any second call would have arrived by now.
        Assert.Equal(1, Calls());
        Assert.Equal(0, fixture.Web.RequestsFor(variant, 1));
        Assert.Equal((2, 2), fixture.CacheLookups.For("web", query, 1));
        Assert.Equal((JobStates.Completed, 10), (a.Status, a.Stats.TotalResults));
        Assert.Equal((JobStates.Completed, 10), (b.Status, b.Stats.TotalResults));
        Assert.Equal((0, 1, 1), (a.Stats.CacheHits, a.Stats.CacheMisses, a.Stats.ApiCalls));
        Assert.Equal((1, 0, 0), (b.Stats.CacheHits, b.Stats.CacheMisses, b.Stats.ApiCalls));

        var later = await fixture.RunAsync(new { query });
        Assert.Equal((1, 0, 1.0, 0), (later.Stats.CacheHits, later.Stats.CacheMisses, later.Stats.CacheHitRate, later.Stats.ApiCalls));
        Assert.Equal(1, Calls());

        var bypass = await fixture.RunAsync(new { query, cache = false });
        Assert.Equal((0, 0, 1), (bypass.Stats.CacheHits, bypass.Stats.CacheMisses, bypass.Stats.ApiCalls));
        Assert.Equal(2, Calls());
    }
}
