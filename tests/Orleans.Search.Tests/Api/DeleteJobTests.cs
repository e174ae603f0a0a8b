using System.Net;
using Microsoft.Data.Sqlite;

namespace Orleans.Search.Tests.Api;

[Collection(ClientsGatewayCollection.Name)]
public sealed class DeleteJobTests(ClientsGatewayFixture fixture)
{
    [Fact]
    public async Task Delete_of_a_finished_job_is_204_then_404_and_leaves_no_row_of_it()
    {
        var query = TestJobs.UniqueQueries("delete-done", 1)[0];
        var created = await GatewayApi.CreateJobAsync(fixture.Alice, new { query, pages = 2 });
        var done = await GatewayApi.WaitForEndAsync(fixture.Alice, created.JobId);
        Assert.Equal(JobStates.Completed, done.Status);
        Assert.True((await RowsOfAsync(created.JobId)).Total > 0, "the finished job should have rows before the delete");
        // Orleans' registry of the job's progress stream (its producer and followers) is one of them.
        await Eventually.ReturnsAsync(() => StreamRegistryRowsAsync(created.JobId), n => n == 1, "the job stream's registry row");

        using var deleted = await fixture.Alice.DeleteAsync($"/api/search-jobs/{created.JobId}");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Empty(await deleted.Content.ReadAsByteArrayAsync());
        using var again = await fixture.Alice.DeleteAsync($"/api/search-jobs/{created.JobId}");
        await GatewayApi.ReadProblemAsync(again, HttpStatusCode.NotFound);
        using var get = await fixture.Alice.GetAsync($"/api/search-jobs/{created.JobId}");
        await GatewayApi.ReadProblemAsync(get, HttpStatusCode.NotFound);
        Assert.DoesNotContain(await GatewayApi.ListAllAsync(fixture.Alice), j => j.JobId == created.JobId);
        // Erased at once, not at some later sweep.
        var left = await RowsOfAsync(created.JobId);
        Assert.True(left.Total == 0, $"rows left: {left}");
    }

    [Fact]
    public async Task Delete_of_another_users_job_is_404_and_the_job_stays()
    {
        var created = await GatewayApi.CreateJobAsync(fixture.Alice, new { query = TestJobs.UniqueQueries("delete-other", 1)[0] });
        await GatewayApi.WaitForEndAsync(fixture.Alice, created.JobId);

        using var response = await fixture.Bob.DeleteAsync($"/api/search-jobs/{created.JobId}");

        var problem = await GatewayApi.ReadProblemAsync(response, HttpStatusCode.NotFound);
        Assert.DoesNotContain("alice", problem.Raw, StringComparison.Ordinal);
        var still = await GatewayApi.GetJobAsync(fixture.Alice, created.JobId);
        Assert.Equal(JobStates.Completed, still.Status);
        Assert.True((await RowsOfAsync(created.JobId)).Total > 0);
    }

    [Fact]
    public async Task Delete_of_an_unknown_or_malformed_id_is_404()
    {
        using var unknown = await fixture.Alice.DeleteAsync($"/api/search-jobs/{Guid.NewGuid():N}");
        await GatewayApi.ReadProblemAsync(unknown, HttpStatusCode.NotFound);
        using var malformed = await fixture.Alice.DeleteAsync("/api/search-jobs/not%20an%20id");
        await GatewayApi.ReadProblemAsync(malformed, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Delete_of_a_running_job_cancels_it_first_so_provider_calls_stop_and_its_event_stream_ends()
    {
        var gated = fixture.GatedSearxng;
        var query = TestJobs.UniqueQueries("delete-running", 1)[0];
        int Requests() => Enumerable.Range(1, 3).Sum(p => gated.RequestsFor(query, p));
        gated.Options.CloseGate();
        try
        {
            var created = await GatewayApi.CreateJobAsync(fixture.Alice, new { query, pages = 3, provider = "gated" });
            await gated.WaitUntilAsync(_ => Requests() == 3, TimeSpan.FromSeconds(30));

            // A follower from the start of the job; it must end by itself once the job is deleted.
            var messages = new List<SseMessage>();
            var connected = new TaskCompletionSource();
            var follow = Task.Run(() => GatewayApi.ReadEventsAsync(fixture.Alice, created.JobId, lastEventId: "0",
                onMessage: m => { lock (messages) { messages.Add(m); } connected.TrySetResult(); }));
            await connected.Task.WaitAsync(TimeSpan.FromSeconds(30));

            using var response = await fixture.Alice.DeleteAsync($"/api/search-jobs/{created.JobId}");
            var deletedAt = DateTimeOffset.UtcNow;

            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            // Each held call was aborted by the cancel, and nothing reached the provider after the delete answered.
            await gated.WaitUntilAsync(f => Enumerable.Range(1, 3).All(p => f.AbortsFor(query, p) == 1), TimeSpan.FromSeconds(30));
            Assert.Equal(3, Requests());
            Assert.Equal(0, gated.ArrivalsSnapshot().Count(a => a.Query == query && a.ArrivedAt > deletedAt));

            var all = await follow.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(JobEventTypes.Cancelled, all[^1].Event);
            Assert.Equal(1, all.Count(m => JobEventTypes.IsTerminal(m.Event)));

            using var get = await fixture.Alice.GetAsync($"/api/search-jobs/{created.JobId}");
            await GatewayApi.ReadProblemAsync(get, HttpStatusCode.NotFound);
            using var events = await fixture.Alice.GetAsync($"/api/search-jobs/{created.JobId}/events");
            await GatewayApi.ReadProblemAsync(events, HttpStatusCode.NotFound);
            var left = await RowsOfAsync(created.JobId);
            Assert.True(left.Total == 0, $"rows left: {left}");
        }
        finally
        {
            gated.Options.OpenGate();
        }
    }

    /// <summary>Rows of Orleans' own registry of the job's progress stream (its producer and followers).</summary>
    private async Task<long> StreamRegistryRowsAsync(string jobId)
    {
        await using var connection = new SqliteConnection(fixture.ConnectionString);
        await connection.OpenAsync();
        return await CountAsync(connection,
            "SELECT count(*) FROM OrleansStorage WHERE GrainTypeString = 'PubSubRendezvousGrain' AND GrainIdExtensionString LIKE $like", jobId);
    }

    /// <summary>
    /// Every stored row that belongs to the job or names it: its own and its queries' grain rows (whether or not emptied),
    /// any other grain row whose key or state mentions it (the active-job set, the user's grain, the registry of its
    /// progress stream), its index line and its reminders.
    /// </summary>
    private async Task<Rows> RowsOfAsync(string jobId)
    {
        await using var connection = new SqliteConnection(fixture.ConnectionString);
        await connection.OpenAsync();
        var counts = new Dictionary<string, long>
        {
            ["job and query rows"] = await CountAsync(connection,
                "SELECT count(*) FROM OrleansStorage WHERE GrainTypeString IN ('job', 'query') AND (GrainIdExtensionString = $id OR GrainIdExtensionString LIKE $prefix)", jobId),
            ["rows naming the job"] = await CountAsync(connection,
                "SELECT count(*) FROM OrleansStorage WHERE CAST(PayloadBinary AS TEXT) LIKE $like OR GrainIdExtensionString LIKE $like", jobId),
            ["index lines"] = await CountAsync(connection, "SELECT count(*) FROM orleans_search_user_jobs WHERE job_id = $id", jobId),
            ["reminders"] = await CountAsync(connection, "SELECT count(*) FROM OrleansRemindersTable WHERE GrainId LIKE $like", jobId),
        };
        await using var types = connection.CreateCommand();
        types.CommandText = "SELECT GrainTypeString, GrainIdExtensionString, CAST(PayloadBinary AS TEXT) FROM OrleansStorage WHERE CAST(PayloadBinary AS TEXT) LIKE $like OR GrainIdExtensionString LIKE $like";
        types.Parameters.AddWithValue("$like", "%" + jobId + "%");
        var naming = new List<string>();
        await using (var reader = await types.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                naming.Add($"{reader.GetString(0)}/{(reader.IsDBNull(1) ? "" : reader.GetString(1))}: {(reader.IsDBNull(2) ? "" : reader.GetString(2))}");
            }
        }
        return new Rows(counts, naming);
    }

    private static async Task<long> CountAsync(SqliteConnection connection, string sql, string jobId)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$id", jobId);
        command.Parameters.AddWithValue("$prefix", jobId + "/%");
        command.Parameters.AddWithValue("$like", "%" + jobId + "%");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private sealed record Rows(Dictionary<string, long> Counts, List<string> Naming)
    {
        public long Total => Counts.Values.Sum();

        public override string ToString() => string.Join(", ", Counts.Select(c => $"{c.Key}: {c.Value}")) + "; rows naming it: " + string.Join(" | ", Naming);
    }
}
