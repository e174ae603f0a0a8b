using Orleans.Search.Fakes.Providers;
using Orleans.Search.RateLimiting;
using Orleans.TestingHost;

namespace Orleans.Search.Tests.Providers.Http;

/// <summary>
/// A one-silo test cluster whose providers <c>jina</c>, <c>brave</c>, <c>tavily</c> and <c>perplexity</c> call their
/// loopback fakes: jobs run through the real query grains, resilience pipelines and limiter grains.
/// </summary>
public sealed class HttpProvidersClusterFixture : IAsyncLifetime
{
    private readonly TempDatabase _database = new();
    private InProcessTestCluster? _cluster;

    public FakeJina Jina { get; private set; } = null!;
    public FakeBrave Brave { get; private set; } = null!;
    public FakeTavily Tavily { get; private set; } = null!;
    public FakePerplexity Perplexity { get; private set; } = null!;

    public IClusterClient Client => _cluster!.Client;

    public FakeProviderServer Fake(string provider) => provider switch
    {
        "jina" => Jina,
        "brave" => Brave,
        "tavily" => Tavily,
        _ => Perplexity,
    };

    public async Task InitializeAsync()
    {
        (Jina, Brave, Tavily, Perplexity) = (await FakeJina.StartAsync(), await FakeBrave.StartAsync(), await FakeTavily.StartAsync(), await FakePerplexity.StartAsync());
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Orleans"] = _database.ConnectionString, ["Search:DefaultProvider"] = "jina" };
        foreach (var (name, fake) in new (string, FakeProviderServer)[] { ("jina", Jina), ("brave", Brave), ("tavily", Tavily), ("perplexity", Perplexity) })
        {
            settings[$"Search:Providers:{name}:Kind"] = name;
            settings[$"Search:Providers:{name}:BaseUrl"] = fake.BaseUrl.ToString();
            settings[$"Search:Providers:{name}:ApiKey"] = FakeProviderServer.ValidKey;
            settings[$"Search:Providers:{name}:PermitsPerMinute"] = "60000";
            settings[$"Search:Providers:{name}:Burst"] = "100";
            settings[$"Search:Providers:{name}:MaxAttempts"] = "3";
            settings[$"Search:Providers:{name}:RetryBaseDelayMs"] = "1";
            settings[$"Search:Providers:{name}:TimeoutSeconds"] = "10";
            settings[$"Search:Providers:{name}:BreakerMinimumThroughput"] = "100000";
        }
        _cluster = SearchClusterFixture.Build(1, settings);
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
        foreach (var fake in new FakeProviderServer[] { Jina, Brave, Tavily, Perplexity })
        {
            if (fake is not null)
            {
                await fake.DisposeAsync();
            }
        }
        _database.Dispose();
    }
}

/// <summary>Each HTTP provider's errors are retried or not per the resilience rules, and its rate-limit headers pause its limiter.</summary>
public sealed class ProviderRulesThroughClusterTests(HttpProvidersClusterFixture fixture) : IClassFixture<HttpProvidersClusterFixture>
{
    /// <summary>What each fake's 429 asks for, in seconds (Retry-After, or the reset of the used-up window).</summary>
    private const int ThrottleSeconds = 2;

    public static TheoryData<string> Providers => ["jina", "brave", "tavily", "perplexity"];

    private async Task<JobStatus> RunAsync(string provider, string query)
    {
        var submission = TestJobs.Submission([query], pages: 1, provider: provider);
        var job = fixture.Client.GetGrain<ISearchJobGrain>(submission.JobId);
        await job.SubmitAsync(submission);
        return (await Eventually.ReturnsAsync(() => job.GetStatusAsync("tester", includeResults: true), s => s is not null && JobStates.IsTerminal(s.Status), $"job on {provider} to end"))!;
    }

    private Task<LimiterSnapshot> LimiterAsync(string provider) =>
        fixture.Client.GetGrain<IRateLimiterGrain>(LimiterKeys.Provider(provider)).GetSnapshotAsync();

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_429_pauses_the_provider_s_limiter_for_what_its_headers_say_and_the_page_is_retried(string provider)
    {
        var fake = fixture.Fake(provider);
        fixture.Jina.RetryAfterSeconds = fixture.Tavily.RetryAfterSeconds = fixture.Perplexity.ResetSeconds = ThrottleSeconds;
        fixture.Brave.ThrottledWindows = ("0, 13999", $"{ThrottleSeconds}, 1419704");
        var throttledBefore = (await LimiterAsync(provider)).Throttled;
        var query = TestJobs.UniqueQueries($"throttled {provider}", 1)[0];
        fake.FailNext(FakeProviderFault.RateLimited);

        var done = await RunAsync(provider, query);

        Assert.Equal(JobStates.Completed, done.Status);
        Assert.NotEmpty(done.Results);
        var requests = fake.RequestsFor(query);
        Assert.Equal(2, requests.Count);
        // The retry waited what the provider asked for (the clocks are the same machine's; 50 ms for timer granularity).
        Assert.True(requests[1].ArrivedAt - requests[0].ArrivedAt >= TimeSpan.FromSeconds(ThrottleSeconds) - TimeSpan.FromMilliseconds(50),
            $"retried after {(requests[1].ArrivedAt - requests[0].ArrivedAt).TotalMilliseconds} ms");
        var limiter = await LimiterAsync(provider);
        Assert.Equal(throttledBefore + 1, limiter.Throttled);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_bad_key_fails_the_page_without_a_retry(string provider)
    {
        var fake = fixture.Fake(provider);
        var query = TestJobs.UniqueQueries($"bad key {provider}", 1)[0];
        fake.FailNext(FakeProviderFault.BadKey);

        var done = await RunAsync(provider, query);

        Assert.Equal(JobStates.Failed, done.Status);
        Assert.Single(fake.RequestsFor(query));
        Assert.Contains(provider == "brave" ? "422" : "401", done.Queries.Single().Error);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_server_error_is_retried(string provider)
    {
        var fake = fixture.Fake(provider);
        var query = TestJobs.UniqueQueries($"server error {provider}", 1)[0];
        fake.FailNext(FakeProviderFault.ServerError);

        var done = await RunAsync(provider, query);

        Assert.Equal(JobStates.Completed, done.Status);
        Assert.Equal(2, fake.RequestsFor(query).Count);
    }

    [Fact]
    public async Task A_brave_answer_that_uses_up_a_window_pauses_the_limiter_before_the_next_call_is_sent()
    {
        var before = (await LimiterAsync("brave")).Throttled;
        fixture.Brave.Remaining = "0, 13000";
        fixture.Brave.Reset = $"{ThrottleSeconds}, 1419704";
        var first = TestJobs.UniqueQueries("last in window", 1)[0];
        try
        {
            Assert.Equal(JobStates.Completed, (await RunAsync("brave", first)).Status);
        }
        finally
        {
            fixture.Brave.Remaining = "1, 14000";
            fixture.Brave.Reset = "1, 1419704";
        }
        var usedUpAt = Assert.Single(fixture.Brave.RequestsFor(first)).ArrivedAt;
        var next = TestJobs.UniqueQueries("next window", 1)[0];

        var done = await RunAsync("brave", next);

        Assert.Equal(JobStates.Completed, done.Status);
        // The first attempt was held without a request; the retry went out once the window had reset.
        var sent = Assert.Single(fixture.Brave.RequestsFor(next));
        Assert.True(sent.ArrivedAt - usedUpAt >= TimeSpan.FromSeconds(ThrottleSeconds) - TimeSpan.FromMilliseconds(50), $"sent {(sent.ArrivedAt - usedUpAt).TotalMilliseconds} ms after");
        Assert.Equal(before + 1, (await LimiterAsync("brave")).Throttled);
    }
}
