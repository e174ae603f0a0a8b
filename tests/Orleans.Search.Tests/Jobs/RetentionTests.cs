using System.Net;
using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Orleans.Search.Tests.Jobs;

public sealed class RetentionTests
{
    [Fact]
    public async Task A_finished_job_is_deleted_after_the_retention_period()
    {
        // 0.0005 h = 1.8 s
        await using var gateway = await GatewayHost.StartAsync(new Dictionary<string, string?> { ["Jobs:RetentionHours"] = "0.0005" });
        var created = await gateway.Http.PostAsJsonAsync("/api/search-jobs", new { query = "token bucket" });
        var job = (await created.Content.ReadFromJsonAsync<JobStatus>())!;

        var done = await Eventually.ReturnsAsync(() => gateway.Http.GetFromJsonAsync<JobStatus>($"/api/search-jobs/{job.JobId}"),
            s => JobStates.IsTerminal(s!.Status), "the job to finish");
        Assert.Equal(JobStates.Completed, done!.Status);
        Assert.NotEmpty(done.Results);

        await Eventually.ReturnsAsync(async () => (await gateway.Http.GetAsync($"/api/search-jobs/{job.JobId}")).StatusCode,
            code => code == HttpStatusCode.NotFound, "the job to be deleted");
        var list = await gateway.Http.GetFromJsonAsync<JobList>("/api/search-jobs");
        Assert.DoesNotContain(list!.Items, j => j.JobId == job.JobId);

        // Nothing of it stays in the database: no job, query or index rows (not even emptied ones), no reminder.
        // The gateway's database is this test's own, so every such row would be this job's.
        var connectionString = gateway.Services.GetRequiredService<IConfiguration>().GetConnectionString("Orleans")!;
        await Eventually.ReturnsAsync(() => CountLeftAsync(connectionString), left => left.Total == 0,
            "the job's rows to be deleted", TimeSpan.FromSeconds(10));
    }

    private static async Task<RowsLeft> CountLeftAsync(string connectionString)
    {
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        var queries = new List<(string What, string Sql)>
        {
            ("job and query rows", "SELECT count(*) FROM OrleansStorage WHERE GrainTypeString IN ('job', 'query')"),
            ("user-jobs state rows", "SELECT count(*) FROM OrleansStorage WHERE GrainTypeString = 'user-jobs'"),
            ("job reminders", "SELECT count(*) FROM OrleansRemindersTable WHERE GrainId LIKE 'job/%'"),
        };
        await using (var exists = connection.CreateCommand())
        {
            exists.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'orleans_search_user_jobs'";
            if ((long)(await exists.ExecuteScalarAsync())! > 0)
            {
                queries.Add(("user index rows", "SELECT count(*) FROM orleans_search_user_jobs"));
            }
        }
        var counts = new Dictionary<string, long>();
        foreach (var (what, sql) in queries)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            counts[what] = (long)(await command.ExecuteScalarAsync())!;
        }
        return new RowsLeft(counts);
    }

    private sealed record RowsLeft(Dictionary<string, long> Counts)
    {
        public long Total => Counts.Values.Sum();

        public override string ToString() => string.Join(", ", Counts.Select(c => $"{c.Key}: {c.Value}"));
    }
}
