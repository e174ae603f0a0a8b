using System.Data.Common;
using Orleans.Search.Jobs;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// The per-user job index (table <c>orleans_search_user_jobs</c>) over ADO.NET: the statements every database runs alike.
/// Each database supplies its connections, the turn its writes take, its upsert and the SQL where the dialects differ.
/// Upserts are group-committed: those that arrive while one transaction writes (or waits for its turn) share the next
/// one, so a burst of creates costs a few commits (and fsyncs) rather than one each; every caller is still answered only
/// once its row is committed, and a failed transaction fails every caller in it.
/// </summary>
internal abstract class AdoUserJobStore(string serviceId) : IUserJobStore
{
    private const string Columns = "job_id, status, created_at, updated_at, title, query_count";

    /// <summary>Upserts in one transaction at most this many: a huge burst is split rather than held in one long write.</summary>
    private const int MaxBatch = 500;

    private GroupCommit<(string UserId, JobSummary Summary), string?>? _upserts;

    private GroupCommit<(string UserId, JobSummary Summary), string?> Upserts =>
        LazyInitializer.EnsureInitialized(ref _upserts, () => new(write => WriteAsync(write), CommitAsync, MaxBatch));

    /// <summary>Upsert transactions committed so far (how many commits the group commit made of the upserts).</summary>
    public long Commits => Upserts.Commits;

    /// <summary>Select list of two integers: this user's stored rows, and of those the pending or running ones.</summary>
    protected abstract string CountColumns { get; }

    /// <summary>Condition keeping rows strictly before <c>(@afterCreated, @afterJob)</c> in (created_at, job_id) order.</summary>
    protected abstract string BeforePosition { get; }

    /// <summary>A new, not yet opened connection to the database.</summary>
    protected abstract DbConnection CreateConnection();

    /// <summary>Runs a write the way this database wants writes run; by default at once.</summary>
    protected virtual Task<T> WriteAsync<T>(Func<Task<T>> write) => write();

    /// <summary>Upserts the rows, in order, inside <paramref name="transaction"/>; returns the status each had (null when new).</summary>
    protected abstract Task<string?[]> UpsertRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<(string UserId, JobSummary Summary)> rows);

    /// <summary>
    /// Queues the upsert for the next group commit. The caller's token is not passed on: the row may share a
    /// transaction with other callers' rows, which one caller's cancellation must not abort.
    /// </summary>
    public Task<string?> UpsertAsync(string userId, JobSummary summary, CancellationToken cancellationToken = default) =>
        Upserts.EnqueueAsync((userId, summary));

    private async Task<string?[]> CommitAsync(IReadOnlyList<(string UserId, JobSummary Summary)> batch)
    {
        await using var connection = await OpenAsync(CancellationToken.None);
        await using var transaction = await connection.BeginTransactionAsync();
        var previous = await UpsertRowsAsync(connection, transaction, batch);
        await transaction.CommitAsync();
        return previous;
    }

    public async Task<UserJobCounts> CountAsync(string userId, DateTimeOffset createdSince, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        int stored, active;
        await using (var counts = Command(connection, userId,
            $"SELECT {CountColumns} FROM orleans_search_user_jobs WHERE service_id = @service AND user_id = @user"))
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
        Add(recent, "since", createdSince.UtcTicks);
        return new UserJobCounts(stored, active, await ReadTimesAsync(recent, cancellationToken));
    }

    public Task<string?> RemoveAsync(string userId, string jobId, CancellationToken cancellationToken = default) =>
        WriteAsync(async () =>
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var delete = Command(connection, userId,
                "DELETE FROM orleans_search_user_jobs WHERE service_id = @service AND user_id = @user AND job_id = @job RETURNING status");
            Add(delete, "job", jobId);
            return await delete.ExecuteScalarAsync(cancellationToken) as string;
        });

    public async Task<IReadOnlyList<JobSummary>> ListAsync(string userId, string? status, int limit, JobPosition? after, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var list = Command(connection, userId, $"""
            SELECT {Columns} FROM orleans_search_user_jobs
            WHERE service_id = @service AND user_id = @user
                {(status is null ? "" : "AND status = @status")}
                {(after is null ? "" : $"AND {BeforePosition}")}
            ORDER BY created_at DESC, job_id DESC
            LIMIT @limit
            """);
        if (status is not null)
        {
            Add(list, "status", status);
        }
        if (after is { } position)
        {
            Add(list, "afterCreated", position.CreatedAt.UtcTicks);
            Add(list, "afterJob", position.JobId);
        }
        Add(list, "limit", limit);
        return await ReadSummariesAsync(list, cancellationToken);
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

    protected async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = CreateConnection();
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>A command on <paramref name="connection"/> with <c>@service</c> and <c>@user</c> bound.</summary>
    protected DbCommand Command(DbConnection connection, string userId, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        Add(command, "service", serviceId);
        Add(command, "user", userId);
        return command;
    }

    /// <summary>Binds the row's columns as <c>@job</c>, <c>@created</c>, <c>@updated</c>, <c>@status</c>, <c>@title</c>, <c>@queries</c>.</summary>
    protected static void AddSummary(DbCommand command, JobSummary summary) => AddSummary(command.CreateParameter, command.Parameters, summary);

    /// <summary>Binds <c>@service</c>, <c>@user</c> and the row's columns (see <see cref="AddSummary(DbCommand, JobSummary)"/>) on a command of a batch.</summary>
    protected void BindRow(DbBatchCommand command, string userId, JobSummary summary)
    {
        Add(command.CreateParameter, command.Parameters, "service", serviceId);
        Add(command.CreateParameter, command.Parameters, "user", userId);
        AddSummary(command.CreateParameter, command.Parameters, summary);
    }

    protected static void Add(DbCommand command, string name, object value) => Add(command.CreateParameter, command.Parameters, name, value);

    private static void AddSummary(Func<DbParameter> create, DbParameterCollection parameters, JobSummary summary)
    {
        Add(create, parameters, "job", summary.JobId);
        Add(create, parameters, "created", summary.CreatedAt.UtcTicks);
        Add(create, parameters, "updated", summary.UpdatedAt.UtcTicks);
        Add(create, parameters, "status", summary.Status);
        Add(create, parameters, "title", summary.Title);
        Add(create, parameters, "queries", summary.QueryCount);
    }

    private static void Add(Func<DbParameter> create, DbParameterCollection parameters, string name, object value)
    {
        var parameter = create();
        parameter.ParameterName = name;
        parameter.Value = value;
        parameters.Add(parameter);
    }

    private static async Task<IReadOnlyList<JobSummary>> ReadSummariesAsync(DbCommand command, CancellationToken cancellationToken)
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

    private static async Task<IReadOnlyList<DateTimeOffset>> ReadTimesAsync(DbCommand command, CancellationToken cancellationToken)
    {
        var times = new List<DateTimeOffset>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            times.Add(new DateTimeOffset(reader.GetInt64(0), TimeSpan.Zero));
        }
        return times;
    }
}
