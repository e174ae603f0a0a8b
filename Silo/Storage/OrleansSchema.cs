using Microsoft.Data.Sqlite;
using Npgsql;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// Creates or updates the Orleans ADO.NET tables and the OrleansQuery rows (clustering, persistence, reminders).
/// The scripts are idempotent, so this runs on every silo start, before Orleans reads OrleansQuery.
/// </summary>
public static class OrleansSchema
{
    private const string SqliteScript = "sqlite.sql";
    private const string PostgresScript = "postgres.sql";

    // Any fixed value works, as long as every process that applies the schema uses the same one.
    private const long PostgresLockKey = 0x4F524C_53524348; // "ORL" "SRCH"

    /// <summary>Applies the SQLite schema, creating the database file (and its folder) when missing.</summary>
    public static async Task ApplySqliteAsync(string connectionString, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);

        var builder = new SqliteConnectionStringBuilder(connectionString);
        var filePath = GetSqliteFilePath(builder);
        if (filePath is not null)
        {
            // SQLite creates the file but not missing folders.
            var folder = Path.GetDirectoryName(Path.GetFullPath(filePath));
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }
        }

        var script = await ReadScriptAsync(SqliteScript, ct).ConfigureAwait(false);

        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);

        if (filePath is not null)
        {
            // WAL lets readers run beside the single writer, which several silos and the reminder service need.
            // The mode is stored in the file, and it can't be changed inside a transaction.
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA journal_mode=WAL;";
            await pragma.ExecuteScalarAsync(ct).ConfigureAwait(false);
        }

        // BEGIN IMMEDIATE takes the write lock up front, so a second process applying the script waits
        // (busy timeout) instead of failing half way, and a failure leaves nothing behind.
        // Microsoft.Data.Sqlite runs a multi-statement script statement by statement, trigger bodies included.
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = script;
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await transaction.CommitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Applies the PostgreSQL schema; safe when several silos run it at the same time.</summary>
    public static async Task ApplyPostgresAsync(string connectionString, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);

        var script = await ReadScriptAsync(PostgresScript, ct).ConfigureAwait(false);

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);

        // Concurrent CREATE ... IF NOT EXISTS and CREATE OR REPLACE FUNCTION can still fail with unique or
        // "tuple concurrently updated" errors. The lock makes appliers queue; it is released at commit or rollback.
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("key", PostgresLockKey);
            await lockCommand.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await using (var command = new NpgsqlCommand(script, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        await transaction.CommitAsync(ct).ConfigureAwait(false);
    }

    // Returns null for in-memory and temporary databases, which have no file (and no folder) to prepare.
    private static string? GetSqliteFilePath(SqliteConnectionStringBuilder builder)
    {
        var dataSource = builder.DataSource;
        if (builder.Mode == SqliteOpenMode.Memory
            || string.IsNullOrWhiteSpace(dataSource)
            || string.Equals(dataSource, ":memory:", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (dataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            // URI file names: "file:path?mode=memory&cache=shared".
            var query = dataSource.IndexOf('?');
            var path = query < 0 ? dataSource[5..] : dataSource[5..query];
            var options = query < 0 ? string.Empty : dataSource[(query + 1)..];
            var inMemory = options.Split('&').Any(o => string.Equals(o, "mode=memory", StringComparison.OrdinalIgnoreCase));
            return inMemory || path.Length == 0 || path == ":memory:" ? null : Uri.UnescapeDataString(path);
        }

        return dataSource;
    }

    private static async Task<string> ReadScriptAsync(string fileName, CancellationToken ct)
    {
        // The resource name depends on the root namespace and folder, so match the file name only.
        var assembly = typeof(OrleansSchema).Assembly;
        var resourceName = assembly.GetManifestResourceNames()
            .SingleOrDefault(name => name.EndsWith("." + fileName, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"Embedded schema script '{fileName}' was not found in {assembly.GetName().Name}.");

        await using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"Embedded schema script '{resourceName}' could not be opened.");
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(ct).ConfigureAwait(false);
    }
}
