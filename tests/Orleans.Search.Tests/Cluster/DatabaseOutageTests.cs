using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Orleans.Search.Fakes;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// The cluster's PostgreSQL server is stopped for about ten seconds while jobs run, then started again. The server is
/// the test's own (<see cref="PrivatePostgresServer"/>): the machine's PostgreSQL is never stopped, so a failed restart
/// cannot harm any other test.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabaseOutageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Jobs_ride_out_a_stopped_database_while_the_gateway_answers_503_with_Retry_After_and_reports_not_ready()
    {
        await using var server = await PrivatePostgresServer.StartAsync();
        await using var cluster = await PostgresCluster.CreateAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(100) },
            await PostgresDatabase.CreateAsync(server.ConnectionString));
        cluster.Settings["Search:Providers:web:MaxConcurrency"] = "4";
        await cluster.StartSilosAsync(2);
        var gateway = await cluster.StartGatewayAsync();
        using var http = gateway.Http();

        // A job that finished before the outage, to read while the database is away.
        var earlier = await PostgresCluster.CreateJobAsync(gateway, TestJobs.UniqueQueries("db-outage earlier", 1), pages: 1);
        Assert.Equal(JobStates.Completed, (await cluster.WaitForAllAsync(gateway, [earlier], TimeSpan.FromSeconds(60)))[0].Status);

        var jobs = new List<(string Id, IReadOnlyList<string> Queries)>();
        for (var i = 0; i < 10; i++)
        {
            var queries = TestJobs.UniqueQueries($"db-outage j{i}", 4);
            jobs.Add((await PostgresCluster.CreateJobAsync(gateway, queries, pages: 2), queries));
        }
        var allQueries = jobs.SelectMany(j => j.Queries).ToHashSet();
        int Fetched() => cluster.Searxng.SuccessCountsSnapshot().Keys.Count(k => allQueries.Contains(k.Query));

        // Part way through, hold the provider and let every fetched page be checkpointed and reported, so the
        // job grains are idle when the server goes away.
        await Eventually.TrueAsync(() => Fetched() >= 16, "some pages to complete");
        cluster.Searxng.Options.CloseGate();
        var beforeOutage = await Eventually.ReturnsAsync(async () =>
        {
            var statuses = await Task.WhenAll(jobs.Select(j => PostgresCluster.TryGetJobAsync(gateway, j.Id)));
            return (Done: statuses.All(s => s is not null) ? statuses.Sum(s => s!.Queries.Sum(q => q.PagesDone)) : -1, Statuses: statuses);
        }, x => x.Done == Fetched(), "every fetched page to be checkpointed and reported");
        // A job with pages still to fetch: the gate holds them, so it stays running (a job whose pages are all done ends in a
        // step just after its last report, and may still show running for that moment).
        var runningJob = beforeOutage.Statuses.First(s => s!.Status == JobStates.Running && s.Queries.Sum(q => q.PagesDone) < s.Queries.Sum(q => q.PagesTotal))!.JobId;

        var stoppedAt = Stopwatch.StartNew();
        try
        {
            await server.StopAsync();
            Assert.False(await server.AcceptsConnectionsAsync(), "PostgreSQL still accepts connections after stop");

            // Readiness says so (it may be cached for a moment, hence the wait).
            var notReady = await Eventually.ReturnsAsync(() => http.GetAsync("/readyz"), r => r.StatusCode == HttpStatusCode.ServiceUnavailable,
                "/readyz to report the database away", TimeSpan.FromSeconds(15));
            output.WriteLine($"/readyz while down: {(int)notReady.StatusCode} {await notReady.Content.ReadAsStringAsync()}");

            // Reads of what lives in memory still answer: a running job (with the results found so far) and a job that
            // finished before the outage.
            var running = await TimedAsync(() => http.GetAsync($"/api/search-jobs/{runningJob}"));
            var runningStatus = await running.Response.Content.ReadFromJsonAsync<JobStatus>(PostgresCluster.Json);
            Assert.True(running.Response.StatusCode == HttpStatusCode.OK && runningStatus!.Status == JobStates.Running,
                $"reading a running job while down answered {(int)running.Response.StatusCode} in {running.Elapsed}\n{gateway.Output}");
            Assert.Equal(runningStatus.Queries.Sum(q => q.PagesDone) * 10, runningStatus.Results.Count);
            var finished = await TimedAsync(() => http.GetAsync($"/api/search-jobs/{earlier}"));
            Assert.True(finished.Response.StatusCode == HttpStatusCode.OK, $"reading a finished job while down answered {(int)finished.Response.StatusCode}");
            Assert.Equal(JobStates.Completed, (await finished.Response.Content.ReadFromJsonAsync<JobStatus>(PostgresCluster.Json))!.Status);
            // The job list is a table of its own, read on every list: it needs the database, so 503 with Retry-After.
            var list = await TimedAsync(() => http.GetAsync("/api/search-jobs?limit=50"));
            await AssertUnavailableAsync(list, "listing jobs");
            // A job that is not in memory needs the database: 503 with Retry-After, at once.
            var absent = await TimedAsync(() => http.GetAsync($"/api/search-jobs/{Guid.NewGuid():N}"));
            await AssertUnavailableAsync(absent, "reading a job that is not in memory");
            foreach (var (what, read) in new[] { ("running job", running), ("finished job", finished), ("job list", list), ("absent job", absent) })
            {
                output.WriteLine($"{what} while down: {(int)read.Response.StatusCode} in {read.Elapsed.TotalMilliseconds:0} ms");
                Assert.True(read.Elapsed < TimeSpan.FromSeconds(5), $"reading the {what} while down took {read.Elapsed}");
            }

            // A create needs the database (the job is stored before its 202): 503 problem with Retry-After, at once.
            var refused = await TimedAsync(() => http.PostAsJsonAsync("/api/search-jobs", new { query = "while the database is down" }));
            output.WriteLine($"create while down: {(int)refused.Response.StatusCode} in {refused.Elapsed.TotalMilliseconds:0} ms: {await refused.Response.Content.ReadAsStringAsync()}");
            await AssertUnavailableAsync(refused, "a create");

            // Work goes on: every page is fetched while the database is down (checkpoints wait to be written).
            cluster.Searxng.Options.OpenGate();
            await Eventually.TrueAsync(() => Fetched() == 80, "every page to be fetched while the database is down", TimeSpan.FromSeconds(30));

            // The outage itself is the scenario: keep the server away for the rest of it.
            var left = Outage - stoppedAt.Elapsed;
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left);
            }
            Assert.False(await server.AcceptsConnectionsAsync(), "PostgreSQL came back by itself during the outage");
        }
        finally
        {
            cluster.Searxng.Options.OpenGate();
            await server.StartAgainAsync();
        }
        output.WriteLine($"PostgreSQL was down {stoppedAt.Elapsed.TotalSeconds:0.0} s");
        await Eventually.ReturnsAsync(() => http.GetAsync("/readyz"), r => r.StatusCode == HttpStatusCode.OK, "/readyz to recover", TimeSpan.FromSeconds(30));

        var finals = await cluster.WaitForAllAsync(gateway, jobs.Select(j => j.Id).ToList(), TimeSpan.FromSeconds(120));
        for (var i = 0; i < jobs.Count; i++)
        {
            var errors = string.Join("; ", finals[i].Queries.Where(q => q.Error is not null).Select(q => $"{q.Query}: {q.Error}"));
            Assert.True(JobStates.Completed == finals[i].Status && finals[i].Results.Count == 80,
                $"job {i} ended {finals[i].Status} with {finals[i].Results.Count} results: {finals[i].Error} {errors}\n{cluster.Logs()}");
        }
        // Nothing was lost, so nothing had to be fetched again.
        foreach (var query in allQueries)
        {
            for (var page = 1; page <= 2; page++)
            {
                Assert.True(cluster.Searxng.RequestsFor(query, page) == 1, $"'{query}' page {page} was requested {cluster.Searxng.RequestsFor(query, page)} times");
            }
        }
        // And the cluster takes new work again.
        var after = await PostgresCluster.CreateJobAsync(gateway, TestJobs.UniqueQueries("db-outage after", 1), pages: 1);
        Assert.Equal(JobStates.Completed, (await cluster.WaitForAllAsync(gateway, [after], TimeSpan.FromSeconds(60)))[0].Status);
    }

    private static async Task AssertUnavailableAsync((HttpResponseMessage Response, TimeSpan Elapsed) answer, string what)
    {
        var body = await answer.Response.Content.ReadAsStringAsync();
        Assert.True(answer.Response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{what} while down answered {(int)answer.Response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", answer.Response.Content.Headers.ContentType?.MediaType);
        Assert.True(answer.Response.Headers.RetryAfter?.Delta is { } delay && delay > TimeSpan.Zero,
            $"{what} while down answered 503 without a Retry-After: {answer.Response.Headers}");
        Assert.True(answer.Elapsed < TimeSpan.FromSeconds(15), $"the 503 for {what} took {answer.Elapsed}");
    }

    private static async Task<(HttpResponseMessage Response, TimeSpan Elapsed)> TimedAsync(Func<Task<HttpResponseMessage>> request)
    {
        var timer = Stopwatch.StartNew();
        var response = await request();
        return (response, timer.Elapsed);
    }
}
