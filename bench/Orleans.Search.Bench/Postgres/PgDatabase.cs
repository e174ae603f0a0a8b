using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Orleans.Search.Bench.Postgres;

/// <summary>A fresh PostgreSQL database for one run, created on the server the bench was given and dropped afterwards.</summary>
public sealed class PgDatabase : IAsyncDisposable
{
    private readonly string _server;

    private PgDatabase(string server, string name, int maxPoolSize)
    {
        _server = server;
        Name = name;
        var builder = new NpgsqlConnectionStringBuilder(server) { Database = name };
        if (!server.Contains("Pool Size", StringComparison.OrdinalIgnoreCase) && !server.Contains("MaxPoolSize", StringComparison.OrdinalIgnoreCase))
        {
            // Npgsql's default pool (100) is PostgreSQL's default max_connections: a busy silo would take every slot
            // (and fail activations with 53300) instead of queueing for a connection.
            builder.MaxPoolSize = maxPoolSize;
        }
        ConnectionString = builder.ToString();
        MaxPoolSize = builder.MaxPoolSize;
    }

    /// <summary>Connections each process may open (its pool size).</summary>
    public int MaxPoolSize { get; }

    public string Name { get; }

    /// <summary>What the service gets (pooled, as in production).</summary>
    public string ConnectionString { get; }

    private string Unpooled => new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ToString();

    public static async Task<PgDatabase> CreateAsync(string server, int maxPoolSize, CancellationToken cancellationToken)
    {
        var name = "orleans_search_bench_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ToString()))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        return new PgDatabase(server, name, maxPoolSize);
    }

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

    /// <summary>True when the silo on <paramref name="siloPort"/> is Active (3) in the membership table.</summary>
    public async Task<bool> IsActiveAsync(int siloPort, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(Unpooled);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand($"SELECT count(*) FROM orleansmembershiptable WHERE port = {siloPort.ToString(CultureInfo.InvariantCulture)} AND status = 3", connection);
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    /// <summary>Grain-state writes so far per grain type: every write bumps its row's Version (as <see cref="StorageProbe"/> does for SQLite).</summary>
    public async Task<Dictionary<string, long>> WritesByGrainTypeAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            await using var connection = new NpgsqlConnection(Unpooled);
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

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_server) { Pooling = false }.ToString());
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // A leftover database is harmless; its name says what it is.
        }
    }
}
