using System.Diagnostics;
using Orleans.Search.Silo.Storage;

namespace Orleans.Search.Tests.Cluster;

/// <summary>The PostgreSQL schema applied again and again, and by several appliers at once, is the schema applied once.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SchemaMigrationTests
{
    [Fact]
    public async Task Applying_the_schema_repeatedly_and_concurrently_leaves_one_correct_schema_a_silo_starts_on()
    {
        string expected;
        await using (var reference = await PostgresDatabase.CreateAsync())
        {
            await OrleansSchema.ApplyPostgresAsync(reference.ConnectionString);
            expected = await DescribeAsync(reference);
        }

        var database = await PostgresDatabase.CreateAsync();
        await using var cluster = await PostgresCluster.CreateAsync(database: database);
        // Four appliers in this process and two `migrate` processes, all at once; then once more on the finished schema.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => OrleansSchema.ApplyPostgresAsync(database.ConnectionString)))
            .Append(MigrateAsync(database)).Append(MigrateAsync(database)));
        await OrleansSchema.ApplyPostgresAsync(database.ConnectionString);

        Assert.Equal(expected, await DescribeAsync(database));
        Assert.Equal(["1"], await database.ColumnAsync("SELECT version FROM orleanssearchschema"));
        Assert.True(await database.ScalarAsync<long>("SELECT count(*) FROM orleansquery") >= 20);

        // And a silo joins a cluster on it (it applies the schema once more at start).
        var silo = (await cluster.StartSilosAsync(1)).Single();
        Assert.True(await database.IsActiveAsync(silo.SiloPort));
        Assert.Equal(expected, await DescribeAsync(database));
    }

    /// <summary>Tables, columns, indexes, functions and every OrleansQuery row (key and text hash), in a stable order.</summary>
    private static async Task<string> DescribeAsync(PostgresDatabase database)
    {
        var parts = new List<string>();
        parts.AddRange(await database.ColumnAsync("""
            SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
            FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1
            """));
        parts.AddRange(await database.ColumnAsync("SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"));
        parts.AddRange(await database.ColumnAsync("""
            SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(p.prosrc)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1
            """));
        parts.AddRange(await database.ColumnAsync("SELECT querykey || ' ' || md5(querytext) FROM orleansquery ORDER BY 1"));
        return string.Join("\n", parts);
    }

    /// <summary><c>dotnet Orleans.Search.Silo.dll migrate</c>, as an operator runs it.</summary>
    private static async Task MigrateAsync(PostgresDatabase database)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(SiloProcess.DllPath);
        start.ArgumentList.Add("migrate");
        start.Environment["ConnectionStrings__Orleans"] = database.ConnectionString;
        start.Environment["Cluster__Storage"] = "postgres";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"migrate exited with {process.ExitCode}: {await stdout}{await stderr}");
        Assert.Contains("Schema applied (postgres)", await stdout);
    }
}
