using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Orleans.Storage;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// Grain state with the writes of all grains group-committed: the rows that grains ask to write while one transaction
/// runs (or waits for its turn) share the next transaction and its one commit (SQLite: one fsync, the statement prepared
/// once; PostgreSQL: one round trip for the whole batch, one WAL flush). A burst of job creates, or the page checkpoints
/// of many queries, then costs a few commits instead of one each. Each grain is still answered only once its row is
/// committed, so what a grain was told is durable is durable.
/// <para>
/// The rows are the ADO.NET provider's own (same table, key columns, hashes, version rule and statement, read from
/// <c>OrleansQuery</c>), so reads and clears stay with that provider, and a database written by either is read by both.
/// The state is serialized when the grain asks for the write, not when the transaction runs: a grain that changes its
/// state while its write waits does not change what that write stores.
/// </para>
/// </summary>
internal sealed class GroupCommitGrainStorage(
    string name,
    IGrainStorage inner,
    GrainStateWrites writes,
    IGrainStorageSerializer serializer,
    string serviceId,
    SqliteWriteLock? writeLock) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly OrleansDefaultHasher Hasher = new();

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var etag = grainState.ETag;
        var write = StateWrite.For(serviceId, stateName, grainId,
            string.IsNullOrWhiteSpace(etag) ? null : int.Parse(etag, CultureInfo.InvariantCulture),
            serializer.Serialize(grainState.State).ToArray());
        var stored = await writes.WriteAsync(write);
        // The ADO.NET provider's rule, kept exactly: the same version back (nothing written), or a row without a
        // version, is a conflict; no row back at all is not (a versioned write over a deleted row), and leaves no ETag.
        if (stored == etag || stored == string.Empty)
        {
            throw new InconsistentStateException(
                $"Version conflict (WriteState): ServiceId={serviceId} ProviderName={name} GrainType={write.GrainTypeString} GrainId={grainId} ETag={etag}.");
        }
        grainState.ETag = stored;
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        writeLock is null
            ? inner.ClearStateAsync(stateName, grainId, grainState)
            : writeLock.TakeTurnAsync(() => inner.ClearStateAsync(stateName, grainId, grainState));

    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);

    /// <summary>One row to write: the key columns as the ADO.NET provider computes them, the expected version and the payload.</summary>
    internal sealed record StateWrite(
        int GrainIdHash, long N0, long N1, int GrainTypeHash, string GrainTypeString, string? Extension, string ServiceId, int? Version, byte[] Payload)
    {
        public static StateWrite For(string serviceId, string stateName, GrainId grainId, int? version, byte[] payload)
        {
            long n0 = 0, n1 = 0;
            string? extension;
            byte[]? keyBytes = null;
            if (grainId.TryGetGuidKey(out var guid, out extension))
            {
                keyBytes = guid.ToByteArray();
                n0 = BitConverter.ToInt64(keyBytes, 0);
                n1 = BitConverter.ToInt64(keyBytes, 8);
            }
            else if (grainId.TryGetIntegerKey(out var integer, out extension))
            {
                n1 = integer;
                keyBytes = BitConverter.GetBytes(integer);
            }
            else
            {
                extension = grainId.Key.ToString();
            }
            // The provider hashes the key's bytes (and the extension's UTF-8 after them), reversed on little-endian machines.
            var hashBytes = keyBytes is null ? Encoding.UTF8.GetBytes(extension!)
                : extension is null ? keyBytes
                : [.. keyBytes, .. Encoding.UTF8.GetBytes(extension)];
            if (BitConverter.IsLittleEndian)
            {
                Array.Reverse(hashBytes);
            }
            var grainType = BaseTypeName(stateName);
            return new StateWrite(Hasher.Hash(hashBytes), n0, n1, Hasher.Hash(Encoding.UTF8.GetBytes(grainType)), grainType, extension, serviceId, version, payload);
        }

        /// <summary>Our state names are plain; the provider strips generic arguments from a type name, which we never pass.</summary>
        private static string BaseTypeName(string stateName) =>
            stateName.Contains('`', StringComparison.Ordinal)
                ? throw new NotSupportedException($"State name '{stateName}' looks like a generic type name, which this storage does not map.")
                : stateName;
    }
}

/// <summary>The silo's group-committed grain-state writes to its database (shared by every grain storage on it).</summary>
/// <param name="takeTurn">Runs one transaction when the database lets this silo write.</param>
internal abstract class GrainStateWrites(Func<Func<Task<bool>>, Task<bool>> takeTurn)
{
    /// <summary>Rows in one transaction at most: a burst is split rather than holding a write turn for long.</summary>
    private const int MaxBatch = 256;

    private GroupCommit<GroupCommitGrainStorage.StateWrite, string?>? _commits;
    private string? _writeSql;

    private GroupCommit<GroupCommitGrainStorage.StateWrite, string?> Commit =>
        LazyInitializer.EnsureInitialized(ref _commits, () => new(takeTurn, CommitAsync, MaxBatch));

    /// <summary>Transactions committed so far.</summary>
    public long Commits => Commit.Commits;

    /// <summary>
    /// Writes the row in the next transaction. Returns what the provider's statement returned as the new version: null
    /// when it returned no row, empty when the row had no version, else the version.
    /// </summary>
    public Task<string?> WriteAsync(GroupCommitGrainStorage.StateWrite write) => Commit.EnqueueAsync(write);

    /// <summary>Writes the rows, in order, in one transaction; each one's result as <see cref="WriteAsync"/> returns it.</summary>
    protected abstract Task<string?[]> CommitAsync(IReadOnlyList<GroupCommitGrainStorage.StateWrite> rows);

    /// <summary>The provider's own write statement, as the schema stored it in <c>OrleansQuery</c> (read once).</summary>
    protected async Task<string> WriteSqlAsync(System.Data.Common.DbConnection connection)
    {
        if (_writeSql is null)
        {
            await using var read = connection.CreateCommand();
            read.CommandText = "SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'WriteToStorageKey'";
            _writeSql = await read.ExecuteScalarAsync() as string
                ?? throw new InvalidOperationException("OrleansQuery has no WriteToStorageKey: the storage schema was not applied.");
        }
        return _writeSql;
    }
}

/// <summary>
/// The silo's group-committed grain-state writes to its one SQLite database, in turns on the silo's
/// <see cref="SqliteWriteLock"/> with the other writers of the file; the statement is prepared once per transaction.
/// </summary>
internal sealed class SqliteStateWrites(string connectionString, SqliteWriteLock writeLock) : GrainStateWrites(writeLock.TakeTurnAsync)
{
    protected override async Task<string?[]> CommitAsync(IReadOnlyList<GroupCommitGrainStorage.StateWrite> batch)
    {
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        var sql = await WriteSqlAsync(connection);
        await using var transaction = connection.BeginTransaction();
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        var grainIdHash = command.Parameters.Add("@GrainIdHash", SqliteType.Integer);
        var n0 = command.Parameters.Add("@GrainIdN0", SqliteType.Integer);
        var n1 = command.Parameters.Add("@GrainIdN1", SqliteType.Integer);
        var grainTypeHash = command.Parameters.Add("@GrainTypeHash", SqliteType.Integer);
        var grainType = command.Parameters.Add("@GrainTypeString", SqliteType.Text);
        var extension = command.Parameters.Add("@GrainIdExtensionString", SqliteType.Text);
        var service = command.Parameters.Add("@ServiceId", SqliteType.Text);
        var version = command.Parameters.Add("@GrainStateVersion", SqliteType.Integer);
        var payload = command.Parameters.Add("@PayloadBinary", SqliteType.Blob);

        var results = new string?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var write = batch[i];
            grainIdHash.Value = write.GrainIdHash;
            n0.Value = write.N0;
            n1.Value = write.N1;
            grainTypeHash.Value = write.GrainTypeHash;
            grainType.Value = write.GrainTypeString;
            extension.Value = (object?)write.Extension ?? DBNull.Value;
            service.Value = write.ServiceId;
            version.Value = write.Version is { } v ? v : DBNull.Value;
            payload.Value = write.Payload;
            await using var reader = await command.ExecuteReaderAsync();
            results[i] = await reader.ReadAsync()
                ? reader.IsDBNull(0) ? string.Empty : reader.GetInt32(0).ToString(CultureInfo.InvariantCulture)
                : null;
        }
        await transaction.CommitAsync();
        return results;
    }
}

/// <summary>
/// The silo's group-committed grain-state writes to PostgreSQL: each transaction sends its whole batch in one round trip
/// (the provider's statement once per row, run in order) and commits once.
/// </summary>
internal sealed class PostgresStateWrites(string connectionString) : GrainStateWrites(static commit => commit())
{
    protected override async Task<string?[]> CommitAsync(IReadOnlyList<GroupCommitGrainStorage.StateWrite> rows)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var sql = await WriteSqlAsync(connection);
        await using var transaction = await connection.BeginTransactionAsync();
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var write in rows)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new NpgsqlParameter<int>("GrainIdHash", NpgsqlDbType.Integer) { TypedValue = write.GrainIdHash });
            command.Parameters.Add(new NpgsqlParameter<long>("GrainIdN0", NpgsqlDbType.Bigint) { TypedValue = write.N0 });
            command.Parameters.Add(new NpgsqlParameter<long>("GrainIdN1", NpgsqlDbType.Bigint) { TypedValue = write.N1 });
            command.Parameters.Add(new NpgsqlParameter<int>("GrainTypeHash", NpgsqlDbType.Integer) { TypedValue = write.GrainTypeHash });
            command.Parameters.Add(new NpgsqlParameter("GrainTypeString", NpgsqlDbType.Varchar) { Value = write.GrainTypeString });
            command.Parameters.Add(new NpgsqlParameter("GrainIdExtensionString", NpgsqlDbType.Varchar) { Value = (object?)write.Extension ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("ServiceId", NpgsqlDbType.Varchar) { Value = write.ServiceId });
            command.Parameters.Add(new NpgsqlParameter("GrainStateVersion", NpgsqlDbType.Integer) { Value = write.Version is { } v ? v : DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("PayloadBinary", NpgsqlDbType.Bytea) { Value = write.Payload });
            batch.BatchCommands.Add(command);
        }
        var results = new string?[rows.Count];
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            for (var i = 0; i < rows.Count; i++)
            {
                if (i > 0)
                {
                    await reader.NextResultAsync();
                }
                results[i] = await reader.ReadAsync()
                    ? reader.IsDBNull(0) ? string.Empty : reader.GetInt32(0).ToString(CultureInfo.InvariantCulture)
                    : null;
            }
        }
        await transaction.CommitAsync();
        return results;
    }
}
