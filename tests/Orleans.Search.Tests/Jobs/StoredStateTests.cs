using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Orleans.Search.Tests.Jobs;

/// <summary>What lands in the database: readable JSON without type names, a small job row, results with their query.</summary>
[Collection(SearchClusterCollection.Name)]
public sealed class StoredStateTests(SearchClusterFixture fixture)
{
    [Fact]
    public async Task State_is_plain_JSON_and_the_job_row_keeps_no_results()
    {
        var queries = TestJobs.UniqueQueries("stored", 4);
        var submission = TestJobs.Submission(queries, pages: 3);
        var job = fixture.Client.GetGrain<ISearchJobGrain>(submission.JobId);
        await job.SubmitAsync(submission);
        var done = await Eventually.ReturnsAsync(() => job.GetStatusAsync(submission.Owner, includeResults: true),
            s => s is not null && JobStates.IsTerminal(s.Status), "the job to finish");
        Assert.Equal(JobStates.Completed, done!.Status);
        Assert.Equal(120, done.Results.Count);

        var rows = await Eventually.ReturnsAsync(() => ReadRowsAsync(submission.JobId),
            r => r.ContainsKey(submission.JobId) && queries.Select((_, i) => $"{submission.JobId}/{i}").All(r.ContainsKey),
            "the job's and every query's row");

        foreach (var (key, payload) in rows)
        {
            using var document = JsonDocument.Parse(payload);
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
            Assert.DoesNotContain("$type", payload, StringComparison.Ordinal);
        }
        var jobRow = rows[submission.JobId];
        Assert.Contains(queries[0], jobRow, StringComparison.Ordinal);
        Assert.All(done.Results, r => Assert.DoesNotContain(r.Url, jobRow, StringComparison.Ordinal));
        for (var i = 0; i < queries.Count; i++)
        {
            var queryRow = rows[$"{submission.JobId}/{i}"];
            Assert.All(done.Results.Where(r => r.Query == queries[i]), r => Assert.Contains(r.Url, queryRow, StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The job's row (state name <c>job</c>, found by the id in its spec: a 32-hex key is stored in the numeric key
    /// columns) and its queries' rows (state name <c>query</c>, key <c>{jobId}/{index}</c>), by grain key.
    /// </summary>
    private async Task<Dictionary<string, string>> ReadRowsAsync(string jobId)
    {
        await using var connection = new SqliteConnection(fixture.DatabaseConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT GrainTypeString, GrainIdExtensionString, PayloadBinary FROM OrleansStorage
            WHERE PayloadBinary IS NOT NULL
              AND ((GrainTypeString = 'query' AND GrainIdExtensionString LIKE @prefix)
                   OR (GrainTypeString = 'job' AND CAST(PayloadBinary AS TEXT) LIKE @spec))
            """;
        command.Parameters.AddWithValue("@prefix", jobId + "/%");
        command.Parameters.AddWithValue("@spec", "%\"JobId\":\"" + jobId + "\"%");
        var rows = new Dictionary<string, string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var key = reader.GetString(0) == "job" ? jobId : reader.GetString(1);
            rows[key] = Encoding.UTF8.GetString((byte[])reader.GetValue(2));
        }
        return rows;
    }
}
