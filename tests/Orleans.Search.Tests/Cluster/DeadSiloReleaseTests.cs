using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Orleans.Search.Caching;
using Orleans.Search.Fakes;
using Orleans.Search.Queries;
using Orleans.Search.RateLimiting;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// Two silo processes on PostgreSQL and an Orleans client in the test that chooses where grains are placed. A silo that
/// holds the provider's only permit, a request queued for it and the in-flight fetch of a cached page is SIGKILLed; the
/// survivor's callers get both within seconds.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DeadSiloReleaseTests(ITestOutputHelper output)
{
    /// <summary>
    /// Kill → the survivor's waiting callers reach the provider. Declaring the silo dead takes about 3 s; the limiter
    /// checks its leases every second, a cache waiter its fetcher's silo every second. Generous for a loaded machine,
    /// and far below the 130 s lease and the 60 s fetch timeout, so only the dead-silo release explains meeting it.
    /// </summary>
    private static readonly TimeSpan ReleaseBound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_killed_silos_provider_permits_and_cache_fetch_pass_to_the_survivors_callers_within_seconds()
    {
        await using var cluster = await PostgresCluster.CreateAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(50) });
        // One provider call at a time, and leases (call timeout + 10 s) that outlast the test by far.
        cluster.Settings["Search:Providers:web:MaxConcurrency"] = "1";
        cluster.Settings["Search:Providers:web:TimeoutSeconds"] = "120";
        cluster.Settings["Logging:LogLevel:Orleans.Runtime.GrainDirectory"] = "Information";
        var silos = await cluster.StartSilosAsync(2);
        var client = await cluster.ClientAsync();
        var management = client.GetGrain<IManagementGrain>(0);
        var hosts = (await management.GetHosts(onlyActive: true)).Keys.ToList();
        SiloAddress AddressOf(SiloProcess silo) => hosts.Single(a => a.Endpoint.Port == silo.SiloPort);

        // When a silo dies, Orleans deactivates every activation whose grain-directory entry that silo held; a fresh
        // limiter or cache activation (holding nothing) would then hide whether the dead silo's holdings are released.
        // So the survivor is the directory owner of the provider's limiter, and every other grain the test watches
        // on the survivor gets a key whose entry the survivor holds.
        var providerLimiter = client.GetGrain<IRateLimiterGrain>(LimiterKeys.Provider("web"));
        var survivorAddress = DirectoryOwner(providerLimiter.GetGrainId(), hosts);
        var survivor = silos.Single(s => AddressOf(s).Equals(survivorAddress));
        var victim = silos.Single(s => s != survivor);
        var victimAddress = AddressOf(victim);
        bool OwnedBySurvivor(GrainId grain) => DirectoryOwner(grain, hosts).Equals(survivorAddress);
        var owner = Generate(() => "tester-" + Guid.NewGuid().ToString("N")[..8],
            o => OwnedBySurvivor(client.GetGrain<IRateLimiterGrain>(LimiterKeys.User(o)).GetGrainId()));
        var shared = Generate(() => TestJobs.UniqueQueries("dead-silo shared", 1)[0],
            q => OwnedBySurvivor(client.GetGrain<IResultCacheGrain>(CacheKeys.For("web", q)).GetGrainId()));
        var other = TestJobs.UniqueQueries("dead-silo other", 1)[0];
        JobSubmission OnSurvivor(string query) => Generate(() => TestJobs.Submission([query], pages: 1, owner: owner),
            job => OwnedBySurvivor(client.GetGrain<ISearchJobGrain>(job.JobId).GetGrainId())
                && OwnedBySurvivor(client.GetGrain<IQueryGrain>($"{job.JobId}/0").GetGrainId()));
        var cache = client.GetGrain<IResultCacheGrain>(CacheKeys.For("web", shared));

        // The limiters and the shared page's cache entry live on the survivor too.
        await OnSiloAsync(survivorAddress, async () =>
        {
            await providerLimiter.GetSnapshotAsync();
            await client.GetGrain<IRateLimiterGrain>(LimiterKeys.User(owner)).GetSnapshotAsync();
            var setup = Guid.NewGuid();
            await cache.LookupAsync(1, setup, null);
            await cache.AbandonAsync(1, setup);
        });

        cluster.Searxng.Options.CloseGate();
        // Job A on the victim: its query takes the only permit and is the fetcher of the shared page; the gate holds its call.
        var jobA = TestJobs.Submission([shared], pages: 1, owner: owner);
        await OnSiloAsync(victimAddress, () => client.GetGrain<ISearchJobGrain>(jobA.JobId).SubmitAsync(jobA));
        await Eventually.TrueAsync(() => cluster.Searxng.RequestsFor(shared, 1) == 1, "the victim's call to reach the provider");
        Assert.Equal(1, (await providerLimiter.GetSnapshotAsync()).InFlight);

        // A second job on the victim queues for the permit first: when the victim dies, that request must be dropped,
        // not granted (the grant would go nowhere and its lease would hold the only slot until it expired).
        var queuedOnVictim = TestJobs.UniqueQueries("dead-silo queued", 1)[0];
        var jobA2 = TestJobs.Submission([queuedOnVictim], pages: 1, owner: owner);
        await OnSiloAsync(victimAddress, () => client.GetGrain<ISearchJobGrain>(jobA2.JobId).SubmitAsync(jobA2));
        await Eventually.ReturnsAsync(() => providerLimiter.GetSnapshotAsync(), s => s.Queued == 1, "the victim's second caller to queue for the permit");

        // On the survivor, job C waits for the permit behind it, and job B waits for the victim's fetch of the same page.
        var jobC = OnSurvivor(other);
        await OnSiloAsync(survivorAddress, () => client.GetGrain<ISearchJobGrain>(jobC.JobId).SubmitAsync(jobC));
        await Eventually.ReturnsAsync(() => providerLimiter.GetSnapshotAsync(), s => s.Queued == 2, "the survivor's caller to queue for the permit");
        var jobB = OnSurvivor(shared);
        await OnSiloAsync(survivorAddress, () => client.GetGrain<ISearchJobGrain>(jobB.JobId).SubmitAsync(jobB));
        await Eventually.ReturnsAsync(() => client.GetGrain<ISearchJobGrain>(jobB.JobId).GetStatusAsync(jobB.Owner, includeResults: false),
            s => s!.Queries[0].Status == QueryStates.Running, "the survivor's query of the shared page to start");

        // The premise: where everything lives.
        var grains = await management.GetDetailedGrainStatistics();
        string SiloOf(string typeFragment, string key) => grains
            .Where(g => g.GrainType.Contains(typeFragment, StringComparison.Ordinal) && g.GrainId.Key.ToString() == key)
            .Select(g => g.SiloAddress.Endpoint.Port == victim.SiloPort ? "victim" : "survivor").SingleOrDefault() ?? "nowhere";
        Assert.Equal("survivor", SiloOf("RateLimiterGrain", LimiterKeys.Provider("web")));
        Assert.Equal("survivor", SiloOf("ResultCacheGrain", CacheKeys.For("web", shared)));
        Assert.Equal("victim", SiloOf("QueryGrain", $"{jobA.JobId}/0"));
        Assert.Equal("victim", SiloOf("QueryGrain", $"{jobA2.JobId}/0"));
        Assert.Equal("survivor", SiloOf("QueryGrain", $"{jobB.JobId}/0"));
        Assert.Equal("survivor", SiloOf("QueryGrain", $"{jobC.JobId}/0"));
        Assert.Equal(1, cluster.Searxng.RequestsFor(shared, 1));
        Assert.Equal(0, cluster.Searxng.RequestsFor(other, 1));

        victim.Kill();
        var killedAt = DateTimeOffset.UtcNow;
        cluster.Searxng.Options.OpenGate();

        DateTimeOffset? FirstArrival(string query) => cluster.Searxng.ArrivalsSnapshot()
            .Where(a => a.ArrivedAt > killedAt && a.Query == query).Select(a => (DateTimeOffset?)a.ArrivedAt).FirstOrDefault();
        var permitAt = await Eventually.ReturnsAsync(() => Task.FromResult(FirstArrival(other)), at => at is not null,
            $"the survivor's permit waiter to call the provider within {ReleaseBound.TotalSeconds:0} s of the kill", ReleaseBound);
        var fetchAt = await Eventually.ReturnsAsync(() => Task.FromResult(FirstArrival(shared)), at => at is not null,
            $"the shared page to be fetched again within {ReleaseBound.TotalSeconds:0} s of the kill", ReleaseBound);
        output.WriteLine($"after the kill: permit waiter called at {(permitAt!.Value - killedAt).TotalSeconds:0.00} s, shared page at {(fetchAt!.Value - killedAt).TotalSeconds:0.00} s");
        Assert.InRange(permitAt.Value - killedAt, TimeSpan.Zero, ReleaseBound);
        Assert.InRange(fetchAt.Value - killedAt, TimeSpan.Zero, ReleaseBound);

        // Everything finishes (job A resumed on the survivor), and the shared page cost one more provider call, not two.
        foreach (var job in new[] { jobA, jobA2, jobB, jobC })
        {
            var final = await Eventually.ReturnsAsync(() => client.GetGrain<ISearchJobGrain>(job.JobId).GetStatusAsync(job.Owner, includeResults: true),
                s => JobStates.IsTerminal(s!.Status), $"job {job.Queries[0]} to finish", TimeSpan.FromSeconds(60));
            Assert.True(final!.Status == JobStates.Completed && final.Results.Count == 10, $"job {job.Queries[0]} ended {final.Status} with {final.Results.Count} results\n{cluster.Logs()}");
        }
        Assert.Equal(2, cluster.Searxng.RequestsFor(shared, 1));
        var limiter = await providerLimiter.GetSnapshotAsync();
        Assert.True(limiter.LeasesExpired >= 1, $"the dead silo's lease was never reclaimed: {limiter}\n{cluster.Logs()}");
        Assert.False(survivor.HasExited, survivor.Output);
    }

    /// <summary>
    /// The silo that holds <paramref name="grain"/>'s entry in Orleans' default grain directory (LocalGrainDirectory, as
    /// Orleans 10.4 computes it): of the active silos ordered by consistent hash, the last whose hash is at most the
    /// grain's uniform hash (read as a signed int), or else the last of all.
    /// </summary>
    private static SiloAddress DirectoryOwner(GrainId grain, IReadOnlyList<SiloAddress> silos)
    {
        var hash = unchecked((int)grain.GetUniformHashCode());
        var ring = silos.OrderBy(s => s.GetConsistentHashCode()).ThenBy(s => s).ToList();
        return ring.LastOrDefault(s => s.GetConsistentHashCode() <= hash) ?? ring[^1];
    }

    /// <summary>Makes candidates until one fits (each fits about half the time with two silos).</summary>
    private static T Generate<T>(Func<T> make, Func<T, bool> fits)
    {
        for (var i = 0; i < 1000; i++)
        {
            var candidate = make();
            if (fits(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("No candidate fitted in 1000 tries.");
    }

    /// <summary>Runs <paramref name="call"/> with a placement hint: grains it activates are placed on <paramref name="silo"/>.</summary>
    private static async Task OnSiloAsync(SiloAddress silo, Func<Task> call)
    {
        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo);
        try
        {
            await call();
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }
}
