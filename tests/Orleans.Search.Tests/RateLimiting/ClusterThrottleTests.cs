using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Orleans.Search.Fakes;
using Orleans.Search.RateLimiting;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.RateLimiting;

/// <summary>
/// Two silos (a test cluster on a SQLite file) with work on both; the provider answers one call 429 with Retry-After.
/// Its own cluster: the 429 pauses the provider's limiter, which must not slow any other test.
/// </summary>
public sealed class ClusterThrottleTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int RetryAfterSeconds = 3;
    private readonly TempDatabase _database = new();
    private FakeSearxng _searxng = null!;
    private InProcessTestCluster? _cluster;

    public async Task InitializeAsync()
    {
        _searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(20) });
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = _searxng.BaseUrl.ToString(),
            // One call at a time: the 429's lease is released only together with the news of the 429, so no call can
            // slip in between the 429 and the pause, and every other caller is waiting in the limiter's queue.
            ["Search:Providers:web:MaxConcurrency"] = "1",
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "100",
            ["Search:Providers:web:RetryBaseDelayMs"] = "20",
            ["Search:Providers:web:BreakerMinimumThroughput"] = "100000",
            ["Limits:User:PermitsPerMinute"] = "60000",
            ["Limits:User:Burst"] = "100",
            ["Limits:User:MaxConcurrency"] = "50",
        };
        _cluster = SearchClusterFixture.Build(2, settings);
        await _cluster.DeployAsync();
        await _cluster.WaitForLivenessToStabilizeAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
        _searxng.Options.OpenGate();
        await _searxng.DisposeAsync();
        _database.Dispose();
    }

    [Fact]
    public async Task A_429_with_Retry_After_stops_every_silo_calling_the_provider_until_it_has_passed_and_then_the_work_resumes()
    {
        var client = _cluster!.Client;
        var silos = _cluster.Silos.Select(s => s.SiloAddress).ToList();
        Assert.Equal(2, silos.Count);

        // One job placed on each silo (its queries go with it), so both silos have callers waiting on the one limiter.
        var jobs = silos.Select((_, i) => TestJobs.Submission(TestJobs.UniqueQueries($"throttle s{i}", 10), pages: 2)).ToList();
        for (var i = 0; i < jobs.Count; i++)
        {
            var job = jobs[i];
            RequestContext.Set(IPlacementDirector.PlacementHintKey, silos[i]);
            try
            {
                await client.GetGrain<ISearchJobGrain>(job.JobId).SubmitAsync(job);
            }
            finally
            {
                RequestContext.Remove(IPlacementDirector.PlacementHintKey);
            }
        }
        var grains = await client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        for (var i = 0; i < jobs.Count; i++)
        {
            var prefix = jobs[i].JobId + "/";
            var hosts = grains.Where(g => g.GrainType.Contains("QueryGrain", StringComparison.Ordinal) && g.GrainId.Key.ToString()!.StartsWith(prefix, StringComparison.Ordinal))
                .Select(g => g.SiloAddress).Distinct().ToList();
            Assert.Equal([silos[i]], hosts);
        }
        var allQueries = jobs.SelectMany(j => j.Queries).ToHashSet();
        int Succeeded() => _searxng.SuccessCountsSnapshot().Keys.Count(k => allQueries.Contains(k.Query));

        // Mid-run, the next call is answered 429 with Retry-After.
        await Eventually.TrueAsync(() => Succeeded() >= 6, "some pages to be fetched");
        _searxng.Options.ThrottleNext(1, RetryAfterSeconds);
        var throttledAt = await Eventually.ReturnsAsync(() => Task.FromResult(_searxng.ForcedThrottlesSnapshot()), t => t.Count == 1, "the 429 to be sent");

        // The limiter learns of the 429 only after it was sent, so the pause starts later than throttledAt: no call
        // from any silo may arrive before throttledAt + Retry-After. Then the work resumes promptly.
        var retryAfter = TimeSpan.FromSeconds(RetryAfterSeconds);
        var resumedAt = await Eventually.ReturnsAsync(
            () => Task.FromResult(_searxng.ArrivalsSnapshot().Where(a => a.ArrivedAt > throttledAt[0]).Select(a => (DateTimeOffset?)a.ArrivedAt).FirstOrDefault()),
            at => at is not null, "a call after the 429", retryAfter + TimeSpan.FromSeconds(10));
        output.WriteLine($"first call {(resumedAt!.Value - throttledAt[0]).TotalSeconds:0.000} s after the 429 (Retry-After: {RetryAfterSeconds})");
        Assert.True(resumedAt.Value - throttledAt[0] >= retryAfter,
            $"a call arrived {(resumedAt.Value - throttledAt[0]).TotalMilliseconds:0} ms after a 429 with Retry-After: {RetryAfterSeconds}");
        Assert.True(resumedAt.Value - throttledAt[0] < retryAfter + TimeSpan.FromSeconds(5),
            $"the work resumed only {(resumedAt.Value - throttledAt[0]).TotalSeconds:0.0} s after a 429 with Retry-After: {RetryAfterSeconds}");

        foreach (var job in jobs)
        {
            var final = await Eventually.ReturnsAsync(() => client.GetGrain<ISearchJobGrain>(job.JobId).GetStatusAsync(job.Owner, includeResults: true),
                s => JobStates.IsTerminal(s!.Status), "the job to finish", TimeSpan.FromSeconds(60));
            Assert.True(final!.Status == JobStates.Completed && final.Results.Count == 200, $"job ended {final.Status} with {final.Results.Count} results: {final.Error}");
        }
        Assert.Equal(1, _searxng.RateLimitedResponses);
        Assert.Equal(1, (await client.GetGrain<IRateLimiterGrain>(LimiterKeys.Provider("web")).GetSnapshotAsync()).Throttled);
    }
}
