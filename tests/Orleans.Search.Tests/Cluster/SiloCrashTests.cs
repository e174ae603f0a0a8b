using Orleans.Runtime;
using Orleans.Search.Fakes;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Cluster;

/// <summary>Two silo processes and a gateway on PostgreSQL; one silo is SIGKILLed with jobs in flight.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SiloCrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Jobs_whose_grains_died_with_a_killed_silo_resume_within_seconds_and_finish_without_refetching_a_completed_page()
    {
        await using var cluster = await PostgresCluster.CreateAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(150) });
        // A 10-minute reminder: only the silo-death sweep can explain a resume within seconds.
        // Four calls at a time keep the run slow enough to stop it part way.
        cluster.Settings["Search:Providers:web:MaxConcurrency"] = "4";
        var silos = await cluster.StartSilosAsync(2, new Dictionary<string, string> { ["Jobs:ResumeReminderPeriod"] = "00:10:00" });
        var gateway = await cluster.StartGatewayAsync();

        var jobs = new List<(string Id, IReadOnlyList<string> Queries)>();
        for (var i = 0; i < 20; i++)
        {
            var queries = TestJobs.UniqueQueries($"silo-crash j{i}", 5);
            jobs.Add((await PostgresCluster.CreateJobAsync(gateway, queries, pages: 2), queries));
        }
        var allQueries = jobs.SelectMany(j => j.Queries).ToHashSet();

        // Mid-run: some pages done, then freeze the provider so what is done stays done while we look.
        await Eventually.TrueAsync(() => cluster.Searxng.SuccessCountsSnapshot().Keys.Count(k => allQueries.Contains(k.Query)) >= 30, "some pages to complete");
        cluster.Searxng.Options.CloseGate();
        var completedBeforeKill = await Eventually.ReturnsAsync(async () =>
        {
            var statuses = await Task.WhenAll(jobs.Select(j => PostgresCluster.TryGetJobAsync(gateway, j.Id)));
            var fetched = cluster.Searxng.SuccessCountsSnapshot().Keys.Where(k => allQueries.Contains(k.Query)).ToHashSet();
            var done = statuses.All(s => s is not null) ? statuses.Sum(s => s!.Queries.Sum(q => q.PagesDone)) : -1;
            return (Done: done, Fetched: fetched);
        }, x => x.Done == x.Fetched.Count, "every fetched page to be checkpointed and reported").ContinueWith(t => t.Result.Fetched);
        Assert.InRange(completedBeforeKill.Count, 30, 150);

        // Kill the silo that hosts the most unfinished query grains, so the test is about them.
        var client = await cluster.ClientAsync();
        var stats = await client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var queryGrains = stats.Where(s => s.GrainType.Contains("QueryGrain", StringComparison.Ordinal)).ToList();
        var victim = silos.OrderByDescending(s => queryGrains.Count(g => g.SiloAddress.Endpoint.Port == s.SiloPort)).First();
        var survivor = silos.Single(s => s != victim);
        var lostQueries = queryGrains.Where(g => g.SiloAddress.Endpoint.Port == victim.SiloPort)
            .Select(g => g.GrainId.Key.ToString()!)
            .Select(key => (Job: key[..key.LastIndexOf('/')], Index: int.Parse(key[(key.LastIndexOf('/') + 1)..])))
            .Select(k => jobs.Single(j => j.Id == k.Job).Queries[k.Index])
            .Where(q => !(completedBeforeKill.Contains((q, 1)) && completedBeforeKill.Contains((q, 2))))
            .ToHashSet();
        output.WriteLine($"killing silo {victim.SiloPort}: {queryGrains.Count(g => g.SiloAddress.Endpoint.Port == victim.SiloPort)} of {queryGrains.Count} query grains, {lostQueries.Count} unfinished");
        Assert.NotEmpty(lostQueries);

        victim.Kill();
        var killedAt = DateTimeOffset.UtcNow;
        output.WriteLine($"killed at {killedAt:HH:mm:ss.fff}");
        cluster.Searxng.Options.OpenGate();

        // Nobody calls the lost queries: their first new page must come from the survivor, well before any reminder.
        var resumedAt = await Eventually.ReturnsAsync(
            () => Task.FromResult(cluster.Searxng.ArrivalsSnapshot()
                .Where(a => a.ArrivedAt > killedAt && a.Query is { } q && lostQueries.Contains(q) && !completedBeforeKill.Contains((q, a.Page ?? 1)))
                .Select(a => (DateTimeOffset?)a.ArrivedAt).FirstOrDefault()),
            at => at is not null, "a query of the killed silo to fetch again", TimeSpan.FromSeconds(30));
        output.WriteLine($"first page of a lost query requested {(resumedAt!.Value - killedAt).TotalSeconds:0.0} s after the kill");

        var finals = await cluster.WaitForAllAsync(gateway, jobs.Select(j => j.Id).ToList(), TimeSpan.FromSeconds(90));
        for (var i = 0; i < jobs.Count; i++)
        {
            var errors = string.Join("; ", finals[i].Queries.Where(q => q.Error is not null).Select(q => $"{q.Query}: {q.Error}"));
            Assert.True(JobStates.Completed == finals[i].Status && finals[i].Results.Count == 100,
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
