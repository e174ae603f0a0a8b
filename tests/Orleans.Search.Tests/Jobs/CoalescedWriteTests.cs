using Microsoft.Data.Sqlite;
using Orleans.Search.Fakes;
using Orleans.TestingHost;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// A job writes its row coalesced (events batched, written a moment later). When such a write fails for longer than
/// the job's background writes retry, the changes are still owed: they are written once the database takes them again.
/// </summary>
public sealed class CoalescedWriteTests : IAsyncLifetime
{
    private const string FailMarker = "[fail]";
    private readonly TempDatabase _database = new();
    private FakeSearxng _searxng = null!;
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { FailQueries = q => q.Contains(FailMarker, StringComparison.Ordinal) });
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = _database.ConnectionString,
            ["Search:DefaultProvider"] = "metered",
            // One permit now, the next in ten minutes: the first page runs (and fails), the second waits, the job stays running.
            ["Search:Providers:metered:Kind"] = "searxng",
            ["Search:Providers:metered:BaseUrl"] = _searxng.BaseUrl.ToString(),
            ["Search:Providers:metered:PermitsPerMinute"] = "0.1",
            ["Search:Providers:metered:Burst"] = "1",
            ["Search:Providers:metered:MaxConcurrency"] = "5",
            ["Search:Providers:metered:MaxAttempts"] = "1",
            ["Limits:User:PermitsPerMinute"] = "60000",
            ["Limits:User:Burst"] = "100",
            // Background writes give up after a second of failures (instead of minutes), so the test's outage can outlast them.
            ["Jobs:StorageRetrySeconds"] = "1",
        };
        _cluster = SearchClusterFixture.Build(1, settings);
        await _cluster.DeployAsync();
    }

    [Fact]
    public async Task Events_whose_coalesced_write_failed_are_written_once_the_database_takes_writes_again()
    {
        var submission = TestJobs.Submission([$"coalesced {Guid.NewGuid():N} {FailMarker}"], pages: 2, provider: "metered");
        var job = _cluster.Client.GetGrain<ISearchJobGrain>(submission.JobId);

        // The job's row is inserted by the create; from then on every update of it is refused.
        await ExecuteAsync("""
            CREATE TRIGGER test_refuse_job_updates BEFORE UPDATE ON OrleansStorage WHEN NEW.GrainTypeString = 'job'
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
            """);
        try
        {
            await job.SubmitAsync(submission);
            await Eventually.ReturnsAsync(() => job.GetEventsAsync(submission.Owner, 0),
                page => page!.Events.Any(e => e.Type == JobEventTypes.PageFailed), "the failed page's event");
            Assert.False(await StoredRowHasAsync(JobEventTypes.PageFailed));

            // The outage is the scenario: it lasts well past the second the coalesced write keeps retrying.
            await Task.Delay(TimeSpan.FromSeconds(5));
            Assert.False(await StoredRowHasAsync(JobEventTypes.PageFailed));
        }
        finally
        {
            await ExecuteAsync("DROP TRIGGER IF EXISTS test_refuse_job_updates;");
        }

        // Nothing else happens to the job (its second page waits minutes for a permit), yet what it owes gets written.
        await Eventually.ReturnsAsync(() => StoredRowHasAsync(JobEventTypes.PageFailed), stored => stored,
            "the failed page's event in the stored job row", TimeSpan.FromSeconds(30));
        Assert.Equal(JobStates.Running, (await job.GetStatusAsync(submission.Owner, includeResults: false))!.Status);

        var cancelled = await job.CancelAsync(submission.Owner);
        Assert.Equal(JobStates.Cancelled, cancelled!.Status);
    }

    private async Task<bool> StoredRowHasAsync(string eventType)
    {
        await using var connection = new SqliteConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM OrleansStorage WHERE GrainTypeString = 'job' AND CAST(PayloadBinary AS TEXT) LIKE @type";
        command.Parameters.AddWithValue("@type", $"%\"Type\":\"{eventType}\"%");
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        await _searxng.DisposeAsync();
        _database.Dispose();
    }
}
