using Npgsql;
using Orleans.Search.Jobs;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// The per-user job index in PostgreSQL (table <c>orleans_search_user_jobs</c>). Connections come from the same Npgsql
/// pool as the Orleans providers' (same connection string), so the index adds no pool of its own.
/// </summary>
internal sealed class PostgresUserJobStore(string connectionString, string serviceId) : IUserJobStore
{
    private const string Columns = "job_id, status, created_at, updated_at, title, query_count";

    public async Task<UserJobCounts> CountAsync(string userId, DateTimeOffset createdSince, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        int stored, active;
        await using (var counts = Command(connection, userId, $"""
            SELECT count(*)::int, (count(*) FILTER (WHERE status IN ('{JobStates.Pending}', '{JobStates.Running}')))::int
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
        recent.Parameters.AddWithValue("since", createdSince.UtcTicks);
        return new UserJobCounts(stored, active, await UserJobRows.ReadTimesAsync(recent, cancellationToken));
    }

    public async Task<string?> UpsertAsync(string userId, JobSummary summary, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // One statement: every part of it sees the table as it was before, so "previous" is the status the row had.
        await using var upsert = Command(connection, userId, """
            WITH previous AS (
                SELECT status FROM orleans_search_user_jobs WHERE service_id = @service AND user_id = @user AND job_id = @job
            ), written AS (
                INSERT INTO orleans_search_user_jobs AS j (service_id, user_id, job_id, created_at, updated_at, status, title, query_count)
                VALUES (@service, @user, @job, @created, @updated, @status, @title, @queries)
                ON CONFLICT (service_id, user_id, job_id) DO UPDATE SET
                    updated_at = EXCLUDED.updated_at, status = EXCLUDED.status, title = EXCLUDED.title, query_count = EXCLUDED.query_count
                RETURNING 1
            )
            SELECT (SELECT status FROM previous), (SELECT count(*) FROM written)
            """);
        UserJobRows.AddSummary(upsert, summary);
        await using var reader = await upsert.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.IsDBNull(0) ? null : reader.GetString(0);
    }

    public async Task<string?> RemoveAsync(string userId, string jobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var delete = Command(connection, userId,
            "DELETE FROM orleans_search_user_jobs WHERE service_id = @service AND user_id = @user AND job_id = @job RETURNING status");
        delete.Parameters.AddWithValue("job", jobId);
        return await delete.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<IReadOnlyList<JobSummary>> ListAsync(string userId, string? status, int limit, JobPosition? after, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var list = Command(connection, userId, $"""
            SELECT {Columns} FROM orleans_search_user_jobs
            WHERE service_id = @service AND user_id = @user
                {(status is null ? "" : "AND status = @status")}
                {(after is null ? "" : "AND (created_at, job_id) < (@afterCreated, @afterJob)")}
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

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private NpgsqlCommand Command(NpgsqlConnection connection, string userId, string sql)
    {
        var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("service", serviceId);
        command.Parameters.AddWithValue("user", userId);
        return command;
    }
}
