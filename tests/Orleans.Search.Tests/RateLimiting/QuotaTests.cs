using Orleans.Search.Fakes;
using Orleans.TestingHost;

namespace Orleans.Search.Tests.RateLimiting;

/// <summary>Three silos sharing one provider quota that a loopback fake polices itself.</summary>
public sealed class QuotaClusterFixture : IAsyncLifetime
{
    public const double Rate = 20;
    public const int Burst = 5;
    private readonly TempDatabase _database = new();

    public FakeSearxng Policed { get; private set; } = null!;

    public FakeSearxng Open { get; private set; } = null!;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Policed = await FakeSearxng.StartAsync(new FakeSearxngOptions { RatePerSecond = Rate, Burst = Burst, Latency = TimeSpan.FromMilliseconds(20) });
        Open = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "quota",
            ["Search:Providers:quota:Kind"] = "searxng",
            ["Search:Providers:quota:BaseUrl"] = Policed.BaseUrl.ToString(),
            ["Search:Providers:quota:PermitsPerMinute"] = (Rate * 60).ToString(),
            ["Search:Providers:quota:Burst"] = Burst.ToString(),
            ["Search:Providers:quota:MaxConcurrency"] = "20",
            ["Search:Providers:fair:Kind"] = "searxng",
            ["Search:Providers:fair:BaseUrl"] = Open.BaseUrl.ToString(),
            ["Search:Providers:fair:PermitsPerMinute"] = "600",
            ["Search:Providers:fair:Burst"] = "1",
            ["Search:Providers:fair:MaxConcurrency"] = "10",
            ["Limits:User:PermitsPerMinute"] = "60000",
            ["Limits:User:Burst"] = "1000",
            ["Limits:User:MaxConcurrency"] = "100",
        };
        Cluster = SearchClusterFixture.Build(3, settings);
        await Cluster.DeployAsync();
        // Single activation per limiter key holds once membership has converged; before that the directory may place twins.
        await Cluster.WaitForLivenessToStabilizeAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        await Policed.DisposeAsync();
        await Open.DisposeAsync();
        _database.Dispose();
    }
}

[Collection(SerialCollection.Name)]
public sealed class QuotaTests(QuotaClusterFixture fixture) : IClassFixture<QuotaClusterFixture>
{
    private IClusterClient Client => fixture.Cluster.Client;

    [Fact]
    public async Task Three_silos_running_ten_jobs_of_three_users_never_exceed_the_providers_quota()
    {
        // A cold HTTP stack (first connections, JIT) can hold the first granted calls back and then release them
        // together, closer than they were granted; warm it on another provider first. (See JitterToleranceMs.)
        var warmUp = TestJobs.Submission(TestJobs.UniqueQueries("warm-up", 6), pages: 1, provider: "fair");
        await Client.GetGrain<ISearchJobGrain>(warmUp.JobId).SubmitAsync(warmUp);
        await Eventually.ReturnsAsync(() => Client.GetGrain<ISearchJobGrain>(warmUp.JobId).GetStatusAsync(warmUp.Owner, false),
            s => JobStates.IsTerminal(s!.Status), "the warm-up job");

        var jobs = Enumerable.Range(0, 10)
            .Select(i => TestJobs.Submission(TestJobs.UniqueQueries($"quota-{i}", 4), pages: 2, provider: "quota", owner: $"user-{i % 3}"))
            .ToList();
        await Task.WhenAll(jobs.Select(j => Client.GetGrain<ISearchJobGrain>(j.JobId).SubmitAsync(j)));

        foreach (var job in jobs)
        {
            var status = await Eventually.ReturnsAsync(() => Client.GetGrain<ISearchJobGrain>(job.JobId).GetStatusAsync(job.Owner, false),
                s => JobStates.IsTerminal(s!.Status), $"job {job.JobId}", TimeSpan.FromSeconds(90));
            Assert.Equal((JobStates.Completed, 80), (status!.Status, status.Stats.TotalResults));
        }
        var snap = await Client.GetGrain<Orleans.Search.RateLimiting.IRateLimiterGrain>("provider:quota").GetSnapshotAsync();
        Assert.True(fixture.Policed.RateLimitedResponses == 0, $"{fixture.Policed.RateLimitedResponses} calls got 429; granted {snap.Granted} total {fixture.Policed.TotalRequests}; arrivals (ms): " +
            string.Join(" ", fixture.Policed.ArrivalsSnapshot().Select(a => (a.ArrivedAt - fixture.Policed.ArrivalsSnapshot()[0].ArrivedAt).TotalMilliseconds.ToString("0"))));
        Assert.Equal(80, jobs.Sum(j => j.Queries.Sum(q => fixture.Policed.RequestsFor(q, 1) + fixture.Policed.RequestsFor(q, 2))));
        // The silos really shared the work.
        Assert.Equal(3, fixture.Cluster.GetActiveSilos().Count());
    }

    [Fact]
    public async Task A_small_job_behind_another_users_big_job_on_the_same_provider_finishes_long_before_it()
    {
        var big = TestJobs.Submission(TestJobs.UniqueQueries("big", 30), pages: 1, provider: "fair", owner: "big-user");
        var bigJob = Client.GetGrain<ISearchJobGrain>(big.JobId);
        await bigJob.SubmitAsync(big);
        await Eventually.ReturnsAsync(() => bigJob.GetStatusAsync("big-user", false), s => s!.Queries.Sum(q => q.PagesDone) >= 2, "the big job to be under way");

        var small = TestJobs.Submission(TestJobs.UniqueQueries("small", 1), pages: 1, provider: "fair", owner: "small-user");
        var smallJob = Client.GetGrain<ISearchJobGrain>(small.JobId);
        await smallJob.SubmitAsync(small);
        var smallDone = await Eventually.ReturnsAsync(() => smallJob.GetStatusAsync("small-user", false), s => JobStates.IsTerminal(s!.Status), "the small job");
        var bigAtThatMoment = await bigJob.GetStatusAsync("big-user", false);

        Assert.Equal(JobStates.Completed, smallDone!.Status);
        Assert.Equal(JobStates.Running, bigAtThatMoment!.Status);
        Assert.True(bigAtThatMoment.Queries.Sum(q => q.PagesDone) <= 10,
            $"the small job waited behind {bigAtThatMoment.Queries.Sum(q => q.PagesDone)} of the big job's 30 calls");
    }
}
