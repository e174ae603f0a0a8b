using System.Data.Common;
using Microsoft.Data.Sqlite;
using Orleans.Search.Jobs;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// The per-user job index in the silo's SQLite database (table <c>orleans_search_user_jobs</c>). Writes take the silo's
/// <see cref="SqliteWriteLock"/> turn like every other write of this silo to the file; reads never wait (WAL).
/// </summary>
internal sealed class SqliteUserJobStore(string connectionString, string serviceId, SqliteWriteLock writeLock) : IUserJobStore
{
    private const string Columns = "job_id, status, created_at, updated_at, title, query_count";

    public async Task<UserJobCounts> CountAsync(string userId, DateTimeOffset createdSince, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        int stored, active;
        await using (var counts = Command(connection, userId, $"""
            SELECT count(*), IFNULL(sum(status IN ('{JobStates.Pending}', '{JobStates.Running}')), 0)
            FROM orleans_search_user_jobs WHERE service_id = @service AND user_id = @user
            """))
        await using (var reader = await counts.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            (stored, active) = (reader.GetInt32(0), reader.GetInt32(1));
        }
        await using var recent = Command(connection, userId, """
            SELECT created_at FROM orleans_search_user_jobs
            WHERE service_id = @service AND user_id = @user AND created_at >= @since
            ORDER BY created_at
            """);
        recent.Parameters.AddWithValue("@since", createdSince.UtcTicks);
        return new UserJobCounts(stored, active, await UserJobRows.ReadTimesAsync(recent, cancellationToken));
    }

    public Task<string?> UpsertAsync(string userId, JobSummary summary, CancellationToken cancellationToken = default) =>
        writeLock.TakeTurnAsync(async () =>
        {
            await using var connection = await OpenAsync(cancellationToken);
            // The grain is this user's only writer, so reading the old status first cannot race another write of the row.
            await using var read = Command(connection, userId,
                "SELECT status FROM orleans_search_user_jobs WHERE service_id = @service AND user_id = @user AND job_id = @job");
            read.Parameters.AddWithValue("@job", summary.JobId);
            var previous = await read.ExecuteScalarAsync(cancellationToken) as string;

            await using var write = Command(connection, userId, """
                INSERT INTO orleans_search_user_jobs (service_id, user_id, job_id, created_at, updated_at, status, title, query_count)
                VALUES (@service, @user, @job, @created, @updated, @status, @title, @queries)
                ON CONFLICT (service_id, user_id, job_id) DO UPDATE SET
                    updated_at = excluded.updated_at, status = excluded.status, title = excluded.title, query_count = excluded.query_count
                """);
            UserJobRows.AddSummary(write, summary);
            await write.ExecuteNonQueryAsync(cancellationToken);
            return previous;
        });

    public Task<string?> RemoveAsync(string userId, string jobId, CancellationToken cancellationToken = default) =>
        writeLock.TakeTurnAsync(async () =>
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var delete = Command(connection, userId,
                "DELETE FROM orleans_search_user_jobs WHERE service_id = @service AND user_id = @user AND job_id = @job RETURNING status");
            delete.Parameters.AddWithValue("@job", jobId);
            return await delete.ExecuteScalarAsync(cancellationToken) as string;
        });

    public async Task<IReadOnlyList<JobSummary>> ListAsync(string userId, string? status, int limit, JobPosition? after, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var list = Command(connection, userId, $"""
            SELECT {Columns} FROM orleans_search_user_jobs
            WHERE service_id = @service AND user_id = @user
                {(status is null ? "" : "AND status = @status")}
                {(after is null ? "" : "AND (created_at < @afterCreated OR (created_at = @afterCreated AND job_id < @afterJob))")}
            ORDER BY created_at DESC, job_id DESC
            LIMIT @limit
            """);
        UserJobRows.AddListParameters(list, status, limit, after);
        return await UserJobRows.ReadSummariesAsync(list, cancellationToken);
    }

    public async Task<DateTimeOffset?> OldestFinishedAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var oldest = Command(connection, userId, $"""
            SELECT min(updated_at) FROM orleans_search_user_jobs
            WHERE service_id = @service AND user_id = @user
                AND status IN ('{JobStates.Completed}', '{JobStates.Failed}', '{JobStates.Cancelled}')
            """);
        return await oldest.ExecuteScalarAsync(cancellationToken) is long ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private SqliteCommand Command(SqliteConnection connection, string userId, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("@service", serviceId);
        command.Parameters.AddWithValue("@user", userId);
        return command;
    }
}

/// <summary>What the SQLite and PostgreSQL job index stores share: parameters and how rows read back.</summary>
internal static class UserJobRows
{
    public static void AddSummary(DbCommand command, JobSummary summary)
    {
        Add(command, "job", summary.JobId);
        Add(command, "created", summary.CreatedAt.UtcTicks);
        Add(command, "updated", summary.UpdatedAt.UtcTicks);
        Add(command, "status", summary.Status);
        Add(command, "title", summary.Title);
        Add(command, "queries", summary.QueryCount);
    }

    public static void AddListParameters(DbCommand command, string? status, int limit, JobPosition? after)
    {
        if (status is not null)
        {
            Add(command, "status", status);
        }
        if (after is { } position)
        {
            Add(command, "afterCreated", position.CreatedAt.UtcTicks);
            Add(command, "afterJob", position.JobId);
        }
        Add(command, "limit", limit);
    }

    public static async Task<IReadOnlyList<JobSummary>> ReadSummariesAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var items = new List<JobSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new JobSummary
            {
                JobId = reader.GetString(0),
                Status = reader.GetString(1),
                CreatedAt = new DateTimeOffset(reader.GetInt64(2), TimeSpan.Zero),
                UpdatedAt = new DateTimeOffset(reader.GetInt64(3), TimeSpan.Zero),
                Title = reader.GetString(4),
                QueryCount = reader.GetInt32(5),
            });
        }
        return items;
    }

    public static async Task<IReadOnlyList<DateTimeOffset>> ReadTimesAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var times = new List<DateTimeOffset>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            times.Add(new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero));
        }
        return times;
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
