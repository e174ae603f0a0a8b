using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Orleans.Search.Harness;

namespace Orleans.Search.Bench.Postgres;

/// <summary>What the bench needs of PostgreSQL beyond the harness's throwaway database: a server, and write counts.</summary>
public static class BenchPostgres
{
    /// <summary>Databases the bench creates are named so, and so told apart from the tests' ones.</summary>
    public const string DatabasePrefix = "orleans_search_bench_";

    /// <summary>The server's connection string: --pg, else ORLEANS_SEARCH_TEST_POSTGRES, else what scripts/postgres.sh prints (it starts the server).</summary>
    public static async Task<string> ServerAsync(string? given, string repositoryRoot, CancellationToken cancellationToken)
    {
        if (given is { Length: > 0 })
        {
            return given;
        }
        if (Environment.GetEnvironmentVariable("ORLEANS_SEARCH_TEST_POSTGRES") is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = repositoryRoot };
        start.ArgumentList.Add(Path.Combine(repositoryRoot, "scripts", "postgres.sh"));
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (process.ExitCode != 0 || line is null || !line.StartsWith("Host=", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"scripts/postgres.sh failed ({process.ExitCode}): {output}");
        }
        return line;
    }

    /// <summary>Grain-state writes so far per grain type: every write bumps its row's Version (as <see cref="StorageProbe"/> does for SQLite).</summary>
    public static async Task<Dictionary<string, long>> WritesByGrainTypeAsync(this PostgresDatabase database, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            await using var connection = new NpgsqlConnection(database.TestConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT graintypestring, SUM(COALESCE(version, 0)) FROM orleansstorage GROUP BY graintypestring", connection);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var name = reader.GetString(0).Split(',')[0];
                result[name[(name.LastIndexOf('.') + 1)..]] = Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
            }
        }
        catch (PostgresException)
        {
            // No schema yet.
        }
        return result;
    }
}
