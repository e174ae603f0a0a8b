using System.Data.Common;
using Npgsql;
using Orleans.Search.Jobs;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// The per-user job index in PostgreSQL (table <c>orleans_search_user_jobs</c>). Connections come from the same Npgsql
/// pool as the Orleans providers' (same connection string), so the index adds no pool of its own.
/// </summary>
internal sealed class PostgresUserJobStore(string connectionString, string serviceId) : AdoUserJobStore(serviceId)
{
    protected override string CountColumns { get; } =
        $"count(*)::int, (count(*) FILTER (WHERE status IN ('{JobStates.Pending}', '{JobStates.Running}')))::int";

    protected override string BeforePosition => "(created_at, job_id) < (@afterCreated, @afterJob)";

    protected override DbConnection CreateConnection() => new NpgsqlConnection(connectionString);

    /// <summary>
    /// One statement per row: every part of it sees the table as it was before, so "previous" is the status the row had
    /// (and a later row of the same job in the batch sees the earlier one's write).
    /// </summary>
    private const string UpsertSql = """
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
        """;

    /// <summary>All the rows in one round trip (a batch of statements, run in order), rather than one round trip each.</summary>
    protected override async Task<string?[]> UpsertRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<(string UserId, JobSummary Summary)> rows)
    {
        await using var batch = new NpgsqlBatch((NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        foreach (var (userId, summary) in rows)
        {
            var upsert = new NpgsqlBatchCommand(UpsertSql);
            BindRow(upsert, userId, summary);
            batch.BatchCommands.Add(upsert);
        }
        var previous = new string?[rows.Count];
        await using var reader = await batch.ExecuteReaderAsync();
        for (var i = 0; i < rows.Count; i++)
        {
            if (i > 0)
            {
                await reader.NextResultAsync();
            }
            await reader.ReadAsync();
            previous[i] = reader.IsDBNull(0) ? null : reader.GetString(0);
        }
        return previous;
    }
}
