using System.Data.Common;
using Microsoft.Data.Sqlite;
using Orleans.Search.Jobs;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// The per-user job index in the silo's SQLite database (table <c>orleans_search_user_jobs</c>). Writes take the silo's
/// <see cref="SqliteWriteLock"/> turn like every other write of this silo to the file; reads never wait (WAL).
/// </summary>
internal sealed class SqliteUserJobStore(string connectionString, string serviceId, SqliteWriteLock writeLock) : AdoUserJobStore(serviceId)
{
    protected override string CountColumns { get; } =
        $"count(*), IFNULL(sum(status IN ('{JobStates.Pending}', '{JobStates.Running}')), 0)";

    protected override string BeforePosition => "(created_at < @afterCreated OR (created_at = @afterCreated AND job_id < @afterJob))";

    protected override DbConnection CreateConnection() => new SqliteConnection(connectionString);

    protected override Task<T> WriteAsync<T>(Func<Task<T>> write) => writeLock.TakeTurnAsync(write);

    protected override async Task<string?[]> UpsertRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<(string UserId, JobSummary Summary)> rows)
    {
        var previous = new string?[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            previous[i] = await UpsertRowAsync(connection, transaction, rows[i].UserId, rows[i].Summary);
        }
        return previous;
    }

    private async Task<string?> UpsertRowAsync(DbConnection connection, DbTransaction transaction, string userId, JobSummary summary)
    {
        // The grain is this user's only writer, and the transaction holds the database's one write lock, so reading the
        // old status first cannot race another write of the row.
        await using var read = Command(connection, userId,
            "SELECT status FROM orleans_search_user_jobs WHERE service_id = @service AND user_id = @user AND job_id = @job", transaction);
        Add(read, "job", summary.JobId);
        var previous = await read.ExecuteScalarAsync() as string;

        await using var write = Command(connection, userId, """
            INSERT INTO orleans_search_user_jobs (service_id, user_id, job_id, created_at, updated_at, status, title, query_count)
            VALUES (@service, @user, @job, @created, @updated, @status, @title, @queries)
            ON CONFLICT (service_id, user_id, job_id) DO UPDATE SET
                updated_at = excluded.updated_at, status = excluded.status, title = excluded.title, query_count = excluded.query_count
            """, transaction);
        AddSummary(write, summary);
        await write.ExecuteNonQueryAsync();
        return previous;
    }
}
