using Npgsql;

namespace Orleans.Search.Harness;

/// <summary>
/// A fresh PostgreSQL database (per test, or per benchmark run) on the server named by ORLEANS_SEARCH_TEST_POSTGRES
/// (scripts/test.sh sets it) or given, dropped afterwards. No server is a failure, never a skip: these tests are the
/// only proof of the PostgreSQL cluster.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    public const string Variable = "ORLEANS_SEARCH_TEST_POSTGRES";

    private readonly string _server;

    private PostgresDatabase(string server, string name, string connectionString)
    {
        _server = server;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    /// <summary>Connections each process may open (its pool size).</summary>
    public int MaxPoolSize => new NpgsqlConnectionStringBuilder(ConnectionString).MaxPoolSize;

    /// <summary>What the silos and gateways get (pooled, as in production).</summary>
    public string ConnectionString { get; }

    /// <summary>Unpooled, for the test's own look-ups: a pooled connection would be dead after the server restarts.</summary>
    public string TestConnectionString => new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ToString();

    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } cs ? cs
        : throw new InvalidOperationException($"{Variable} is not set. Run the suite with `bash scripts/test.sh`, or export {Variable} " +
            "(e.g. the connection string `bash scripts/postgres.sh` prints) before `dotnet test`.");

    public static Task<PostgresDatabase> CreateAsync() => CreateAsync(ServerConnectionString);

    /// <summary>
    /// A fresh database on <paramref name="server"/> (a connection string to any database there). With
    /// <paramref name="maxPoolSize"/>, the connection string the service gets caps each process's pool at it (unless
    /// the server's string sets a pool size itself): Npgsql's default pool (100) is PostgreSQL's default max_connections,
    /// so a busy silo would take every slot (and fail activations with 53300) instead of queueing for a connection.
    /// </summary>
    public static async Task<PostgresDatabase> CreateAsync(string server, string namePrefix = "orleans_search_t_", int? maxPoolSize = null)
    {
        var name = namePrefix + Guid.NewGuid().ToString("N")[..12];
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ToString());
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException($"PostgreSQL at {new NpgsqlConnectionStringBuilder(server).Host}:{new NpgsqlConnectionStringBuilder(server).Port} is not reachable or refused CREATE DATABASE: {ex.Message}", ex);
        }
        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = name };
        if (maxPoolSize is { } pool && !server.Contains("Pool Size", StringComparison.OrdinalIgnoreCase) && !server.Contains("MaxPoolSize", StringComparison.OrdinalIgnoreCase))
        {
            connectionString.MaxPoolSize = pool;
        }
        return new PostgresDatabase(server, name, connectionString.ToString());
    }

    public async Task<T?> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(TestConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<List<string>> ColumnAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(TestConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.IsDBNull(0) ? "" : Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }
        return values;
    }

    /// <summary>True when the silo listening on <paramref name="siloPort"/> is Active (3) in the membership table.</summary>
    public async Task<bool> IsActiveAsync(int siloPort)
    {
        try
        {
            return await ScalarAsync<long>($"SELECT count(*) FROM orleansmembershiptable WHERE port = {siloPort} AND status = 3") > 0;
        }
        catch (NpgsqlException)
        {
            return false;
        }
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
            // A leftover test database is harmless; its name says what it is.
        }
    }
}
