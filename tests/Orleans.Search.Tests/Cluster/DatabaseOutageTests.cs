using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Npgsql;
using Orleans.Search.Fakes;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// The PostgreSQL server itself is stopped for about ten seconds while jobs run, then started again.
/// (This is why every PostgreSQL test shares one non-parallel collection.)
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabaseOutageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Jobs_ride_out_a_stopped_database_and_the_gateway_answers_503_meanwhile()
    {
        await using var cluster = await PostgresCluster.CreateAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(100) });
        cluster.Settings["Search:Providers:web:MaxConcurrency"] = "4";
        await cluster.StartSilosAsync(2);
        var gateway = await cluster.StartGatewayAsync();

        var jobs = new List<(string Id, IReadOnlyList<string> Queries)>();
        for (var i = 0; i < 10; i++)
        {
            var queries = TestJobs.UniqueQueries($"db-outage j{i}", 4);
            jobs.Add((await PostgresCluster.CreateJobAsync(gateway, queries, pages: 2), queries));
        }
        var allQueries = jobs.SelectMany(j => j.Queries).ToHashSet();
        int Fetched() => cluster.Searxng.SuccessCountsSnapshot().Keys.Count(k => allQueries.Contains(k.Query));

        // Part way through, hold the provider, stop the server, then let the pages finish while it is away.
        await Eventually.TrueAsync(() => Fetched() >= 16, "some pages to complete");
        cluster.Searxng.Options.CloseGate();
        var stoppedAt = Stopwatch.StartNew();
        try
        {
            await PgCtlAsync("stop -m fast");
            Assert.False(await AcceptsConnectionsAsync(), "PostgreSQL still accepts connections after stop");
            cluster.Searxng.Options.OpenGate();

            // Work goes on: every page is fetched while the database is down (checkpoints wait to be written).
            await Eventually.TrueAsync(() => Fetched() == 80, "every page to be fetched while the database is down", TimeSpan.FromSeconds(30));

            // Meanwhile a create answers a 503 problem at once (bounded), not a hang.
            using var http = gateway.Http();
            var timer = Stopwatch.StartNew();
            using var refused = await http.PostAsJsonAsync("/api/search-jobs", new { query = "while the database is down" });
            timer.Stop();
            var body = await refused.Content.ReadAsStringAsync();
            output.WriteLine($"create while down: {(int)refused.StatusCode} in {timer.ElapsedMilliseconds} ms: {body}");
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"create while down answered {(int)refused.StatusCode}: {body}\n{gateway.Output}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.True(timer.Elapsed < TimeSpan.FromSeconds(15), $"the 503 took {timer.Elapsed}");

            // The outage itself is the scenario: keep the server away for the rest of it.
            var left = Outage - stoppedAt.Elapsed;
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left);
            }
        }
        finally
        {
            cluster.Searxng.Options.OpenGate();
            await PgCtlAsync("start");
            await Eventually.ReturnsAsync(AcceptsConnectionsAsync, ok => ok, "PostgreSQL to accept connections again", TimeSpan.FromSeconds(60));
        }
        output.WriteLine($"PostgreSQL was down {stoppedAt.Elapsed.TotalSeconds:0.0} s");

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

    private static async Task<bool> AcceptsConnectionsAsync()
    {
        try
        {
            var cs = new NpgsqlConnectionStringBuilder(PostgresDatabase.ServerConnectionString) { Pooling = false, Timeout = 3 }.ToString();
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync();
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The machine's PostgreSQL 15 cluster (scripts/postgres.sh starts the same one).</summary>
    private static async Task PgCtlAsync(string action)
    {
        var start = new ProcessStartInfo("pg_ctlcluster") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in $"15 main {action}".Split(' '))
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"pg_ctlcluster 15 main {action} exited with {process.ExitCode}: {await stdout}{await stderr}");
    }
}
