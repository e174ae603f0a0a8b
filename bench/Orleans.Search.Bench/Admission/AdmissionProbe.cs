using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using Orleans.Search.Harness;

namespace Orleans.Search.Bench.Admission;

/// <summary>
/// Counts the service's writes from outside, on SQLite or PostgreSQL: grain-state writes per grain type (each bumps its
/// row's Version), reminder-table writes (a new row, then a version per update: <c>reminders</c>) and rows of the user job
/// index (<c>index rows</c>; inserts only, which is what creating jobs does).
/// </summary>
internal sealed class AdmissionProbe(string? sqlitePath, PostgresDatabase? postgres)
{
    public async Task<Dictionary<string, long>> WritesAsync(CancellationToken cancellationToken)
    {
        var result = postgres is not null
            ? await Postgres.BenchPostgres.WritesByGrainTypeAsync(postgres, cancellationToken)
            : await new StorageProbe(sqlitePath!).WritesByGrainTypeAsync(cancellationToken);
        if (postgres is null && !File.Exists(sqlitePath))
        {
            return result;
        }
        await using DbConnection connection = postgres is not null
            ? new NpgsqlConnection(postgres.TestConnectionString)
            : new SqliteConnection($"Data Source={sqlitePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(cancellationToken);
        result["reminders"] = await ScalarAsync(connection, "SELECT COUNT(*) + COALESCE(SUM(Version), 0) FROM OrleansRemindersTable", cancellationToken);
        result["index rows"] = await ScalarAsync(connection, "SELECT COUNT(*) FROM orleans_search_user_jobs", cancellationToken);
        return result;
    }

    private static async Task<long> ScalarAsync(DbConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        try
        {
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (DbException)
        {
            return 0; // no schema yet
        }
    }
}
