using Orleans.Runtime;
using Orleans.Search.Fakes;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Cluster;

/// <summary>Two silo processes and a gateway on PostgreSQL; one silo is SIGKILLed with jobs in flight.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SiloCrashTests(ITestOutputHelper output)
{
    /// <summary>
    /// Kill → first provider call of a query that died with the silo. Declaring the silo dead takes about 3 s (probe
    /// timeout 1 s, 2 missed probes, 1 vote); the rest is the sweep re-activating jobs and queries from the database.
    /// Generous for a loaded machine, and far below the 10-minute reminder and stall check this test configures.
    /// </summary>
    private static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Queries_that_died_with_a_killed_silo_are_resumed_by_the_dead_silo_sweep_within_seconds_and_no_completed_page_is_fetched_again()
    {
        await using var cluster = await PostgresCluster.CreateAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(100) });
        // Only the sweep that follows a silo's death may resume a lost query in time: the lifecycle reminder and the
        // job's own stall check are ten minutes away.
        cluster.Settings["Jobs:ResumeReminderPeriod"] = "00:10:00";
        cluster.Settings["Jobs:StallCheckPeriod"] = "00:10:00";
        // The provider's rate (20 calls/s), not a concurrency cap, paces the run, so calls held at the closed gate take
        // no slot a resumed query would need; and held calls do not time out (and retry) while the test looks.
        cluster.Settings["Search:Providers:web:PermitsPerMinute"] = "1200";
        cluster.Settings["Search:Providers:web:Burst"] = "10";
        cluster.Settings["Search:Providers:web:MaxConcurrency"] = "200";
        cluster.Settings["Search:Providers:web:TimeoutSeconds"] = "120";
        cluster.Settings["Limits:User:MaxConcurrency"] = "200";
        var silos = await cluster.StartSilosAsync(2);
        var gateway = await cluster.StartGatewayAsync();

        var jobs = new List<(string Id, IReadOnlyList<string> Queries)>();
        for (var i = 0; i < 10; i++)
        {
            var queries = TestJobs.UniqueQueries($"silo-crash j{i}", 4);
            jobs.Add((await PostgresCluster.CreateJobAsync(gateway, queries, pages: 2), queries));
        }
        var allQueries = jobs.SelectMany(j => j.Queries).ToHashSet();
        var allPages = allQueries.SelectMany(q => new[] { (Query: q, Page: 1), (Query: q, Page: 2) }).ToList();

        // Mid-run: some pages done. Then the gate holds every other call; wait until every page has been asked for (so
        // no caller is left queued in a limiter) and every fetched page is checkpointed and reported.
        await Eventually.TrueAsync(() => cluster.Searxng.SuccessCountsSnapshot().Keys.Count(k => allQueries.Contains(k.Query)) >= 20, "some pages to complete");
        cluster.Searxng.Options.CloseGate();
        await Eventually.TrueAsync(() => allPages.All(p => cluster.Searxng.RequestsFor(p.Query, p.Page) >= 1), "every page to be requested");
        var completedBeforeKill = await Eventually.ReturnsAsync(async () =>
        {
            var statuses = await Task.WhenAll(jobs.Select(j => PostgresCluster.TryGetJobAsync(gateway, j.Id)));
            var fetched = cluster.Searxng.SuccessCountsSnapshot().Keys.Where(k => allQueries.Contains(k.Query)).ToHashSet();
            var done = statuses.All(s => s is not null) ? statuses.Sum(s => s!.Queries.Sum(q => q.PagesDone)) : -1;
            return (Done: done, Fetched: fetched);
        }, x => x.Done == x.Fetched.Count, "every fetched page to be checkpointed and reported").ContinueWith(t => t.Result.Fetched);
        Assert.InRange(completedBeforeKill.Count, 20, 79);

        // Kill the silo that hosts the most unfinished query grains, so the test is about them.
        var client = await cluster.ClientAsync();
        var stats = await client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var queryGrains = stats.Where(s => s.GrainType.Contains("QueryGrain", StringComparison.Ordinal)).ToList();
        bool Unfinished(string query) => !(completedBeforeKill.Contains((query, 1)) && completedBeforeKill.Contains((query, 2)));
        string QueryOf(GrainId grain)
        {
            var key = grain.Key.ToString()!;
            var job = key[..key.LastIndexOf('/')];
            return jobs.Single(j => j.Id == job).Queries[int.Parse(key[(key.LastIndexOf('/') + 1)..])];
        }
        var victim = silos.OrderByDescending(s => queryGrains.Count(g => g.SiloAddress.Endpoint.Port == s.SiloPort && Unfinished(QueryOf(g.GrainId)))).First();
        var survivor = silos.Single(s => s != victim);
        var lostQueries = queryGrains.Where(g => g.SiloAddress.Endpoint.Port == victim.SiloPort)
            .Select(g => QueryOf(g.GrainId))
            .Where(Unfinished)
            .ToHashSet();
        output.WriteLine($"killing silo {victim.SiloPort}: {queryGrains.Count(g => g.SiloAddress.Endpoint.Port == victim.SiloPort)} of {queryGrains.Count} query grains, {lostQueries.Count} unfinished");
        Assert.NotEmpty(lostQueries);

        victim.Kill();
        var killedAt = DateTimeOffset.UtcNow;
        output.WriteLine($"killed at {killedAt:HH:mm:ss.fff}");

        // The gate stays closed: the surviving queries' calls stay held, so none of them reports to a job grain that died
        // with the silo (a report would re-activate it, and a re-activated job resumes its queries by itself). Nobody
        // calls the jobs either. So the first new call for a lost query (arrivals are logged before the gate) can only
        // come from the sweep that follows the silo's death.
        var resumedAt = await Eventually.ReturnsAsync(
            () => Task.FromResult(cluster.Searxng.ArrivalsSnapshot()
                .Where(a => a.ArrivedAt > killedAt && a.Query is { } q && lostQueries.Contains(q) && !completedBeforeKill.Contains((q, a.Page ?? 1)))
                .Select(a => (DateTimeOffset?)a.ArrivedAt).FirstOrDefault()),
            at => at is not null, $"a query of the killed silo to call the provider again within {ResumeBound.TotalSeconds:0} s", ResumeBound);
        output.WriteLine($"first page of a lost query requested {(resumedAt!.Value - killedAt).TotalSeconds:0.0} s after the kill");
        Assert.InRange(resumedAt.Value - killedAt, TimeSpan.Zero, ResumeBound);

        cluster.Searxng.Options.OpenGate();
        var finals = await cluster.WaitForAllAsync(gateway, jobs.Select(j => j.Id).ToList(), TimeSpan.FromSeconds(90));
        for (var i = 0; i < jobs.Count; i++)
        {
            var errors = string.Join("; ", finals[i].Queries.Where(q => q.Error is not null).Select(q => $"{q.Query}: {q.Error}"));
            Assert.True(JobStates.Completed == finals[i].Status && finals[i].Results.Count == 80,
                $"job {i} ended {finals[i].Status} with {finals[i].Results.Count} results: {finals[i].Error} {errors}\n{cluster.Logs()}");
            foreach (var query in jobs[i].Queries)
            {
                Assert.Equal(20, finals[i].Results.Count(r => r.Query == query));
            }
        }
        foreach (var (query, page) in completedBeforeKill)
        {
            Assert.True(cluster.Searxng.RequestsFor(query, page) == 1,
                $"'{query}' page {page} was completed before the kill and requested {cluster.Searxng.RequestsFor(query, page)} times");
        }
        Assert.False(survivor.HasExited, survivor.Output);
    }
}
