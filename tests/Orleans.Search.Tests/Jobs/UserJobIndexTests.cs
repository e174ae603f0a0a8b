using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// The per-user job index stores one row per job: what an upsert writes does not depend on how many jobs the user has.
/// "Bytes written" is read from the database itself: every row of the user's index (the index table and the user-jobs
/// grain's state row, if any) that an upsert inserted or changed, with the size of what it holds.
/// </summary>
[Collection(SearchClusterCollection.Name)]
public sealed class UserJobIndexTests(SearchClusterFixture fixture, ITestOutputHelper output)
{
    private const string IndexTable = "orleans_search_user_jobs";

    [Fact]
    public async Task An_upsert_writes_one_row_of_a_size_that_does_not_grow_with_the_users_history()
    {
        var user = "history-" + Guid.NewGuid().ToString("N")[..8];
        var index = fixture.Client.GetGrain<IUserJobsGrain>(user);
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        JobSummary Summary(int i, string status = JobStates.Running) => new()
        {
            JobId = $"{i:D6}{Guid.NewGuid():N}"[..32],
            Status = status,
            CreatedAt = start.AddMilliseconds(i),
            UpdatedAt = start.AddMilliseconds(i),
            Title = $"query number {i} of the history",
            QueryCount = 1,
        };

        var early = await WrittenByAsync(user, () => index.UpsertAsync(Summary(1)));
        for (var i = 2; i < 600; i++)
        {
            await index.UpsertAsync(Summary(i, JobStates.Completed));
        }
        var late = await WrittenByAsync(user, () => index.UpsertAsync(Summary(600)));
        output.WriteLine($"an upsert at history 1 wrote {early.Rows} rows, {early.Bytes} bytes; at history 600: {late.Rows} rows, {late.Bytes} bytes");

        Assert.Equal(1, early.Rows);
        Assert.Equal(1, late.Rows);
        Assert.True(late.Bytes <= early.Bytes + 16, $"an upsert at history 600 wrote {late.Bytes} bytes, at history 1 {early.Bytes}");
        Assert.Equal(600, await CountIndexRowsAsync(user));

        // Updating a job's line rewrites that line only.
        var existing = await FindAsync(index, 300);
        var update = await WrittenByAsync(user, () => index.UpsertAsync(existing with { Status = JobStates.Cancelled, UpdatedAt = DateTimeOffset.UtcNow }));
        Assert.Equal(1, update.Rows);
        Assert.Equal(600, await CountIndexRowsAsync(user));
    }

    /// <summary>The rows of the user's index that <paramref name="upsert"/> inserted or changed, and their bytes.</summary>
    private async Task<(int Rows, long Bytes)> WrittenByAsync(string user, Func<Task> upsert)
    {
        var before = await SnapshotAsync(user);
        await upsert();
        var after = await SnapshotAsync(user);
        var changed = after.Where(row => !before.TryGetValue(row.Key, out var old) || old.Version != row.Value.Version).ToList();
        return (changed.Count, changed.Sum(row => row.Value.Bytes));
    }

    /// <summary>Row key → (a version that changes with every write of the row, the row's size).</summary>
    private async Task<Dictionary<string, (string Version, long Bytes)>> SnapshotAsync(string user)
    {
        var rows = new Dictionary<string, (string, long)>();
        await using var connection = new SqliteConnection(fixture.DatabaseConnectionString);
        await connection.OpenAsync();
        await using (var state = connection.CreateCommand())
        {
            // The grain-state row of the user's index (string key), as the old design kept the whole list in it.
            state.CommandText = """
                SELECT 'state', Version, IFNULL(length(PayloadBinary), 0) FROM OrleansStorage
                WHERE GrainTypeString = 'user-jobs' AND GrainIdExtensionString = @user
                """;
            state.Parameters.AddWithValue("@user", user);
            await ReadAsync(state);
        }
        if (await TableExistsAsync(connection))
        {
            await using var lines = connection.CreateCommand();
            lines.CommandText = $"""
                SELECT job_id, status || ':' || updated_at,
                    length(job_id) + length(user_id) + length(service_id) + length(status) + length(title) + 8 * 3
                FROM {IndexTable} WHERE user_id = @user
                """;
            lines.Parameters.AddWithValue("@user", user);
            await ReadAsync(lines);
        }
        return rows;

        async Task ReadAsync(SqliteCommand command)
        {
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows[reader.GetString(0)] = (Convert.ToString(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture)!, reader.GetInt64(2));
            }
        }
    }

    private async Task<long> CountIndexRowsAsync(string user)
    {
        await using var connection = new SqliteConnection(fixture.DatabaseConnectionString);
        await connection.OpenAsync();
        if (!await TableExistsAsync(connection))
        {
            return 0;
        }
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {IndexTable} WHERE user_id = @user";
        command.Parameters.AddWithValue("@user", user);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<JobSummary> FindAsync(IUserJobsGrain index, int i)
    {
        var list = await index.ListAsync(null, 100, null);
        var all = new List<JobSummary>(list.Items);
        while (list.NextCursor is { } cursor)
        {
            list = await index.ListAsync(null, 100, cursor);
            all.AddRange(list.Items);
        }
        return all.Single(j => j.Title == $"query number {i} of the history");
    }

    private static async Task<bool> TableExistsAsync(SqliteConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{IndexTable}'";
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }
}
