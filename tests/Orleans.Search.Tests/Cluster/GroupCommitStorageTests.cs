using Microsoft.Data.Sqlite;
using Npgsql;
using Orleans.Search.Harness;
using Orleans.Search.Silo.Storage;
using Orleans.Search.Storage;
using Orleans.Storage;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// The silo's grain storage group-commits the writes of all grains: writes that arrive while the database is busy share
/// one transaction, each is answered only once committed, a stale write fails alone, and the rows are the ADO.NET
/// provider's own (its read and delete queries, which look rows up by its hashes, find them). On SQLite and PostgreSQL.
/// </summary>
public sealed class GroupCommitStorageTests : IAsyncLifetime
{
    private static readonly GrainType TestType = GrainType.Create("group-commit-test");
    private GatewayHost _gateway = null!;
    private PostgresDatabase? _postgres;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await FixtureParts.DisposeAsync(_gateway, _postgres);

    private async Task StartAsync(string storage)
    {
        if (storage == "postgres")
        {
            _postgres = await PostgresDatabase.CreateAsync();
            _gateway = await GatewayHost.StartAsync(new Dictionary<string, string?>
            {
                ["Cluster:Storage"] = "postgres",
                ["ConnectionStrings:Orleans"] = _postgres.ConnectionString,
            });
        }
        else
        {
            _gateway = await GatewayHost.StartAsync();
        }
    }

    private IGrainStorage Storage => _gateway.Services.GetRequiredKeyedService<IGrainStorage>(SearchStorage.Name);

    /// <summary>SQLite: the silo's write turn, which the test can hold; PostgreSQL has none (writes queue while one commits).</summary>
    private async Task<T> WhileBusyAsync<T>(Func<T> start)
    {
        if (_gateway.Services.GetService<SqliteWriteLock>() is not { } writeLock || _postgres is not null)
        {
            return start();
        }
        var hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = writeLock.TakeTurnAsync(() => hold.Task);
        var started = start();
        hold.SetResult(true);
        await held;
        return started;
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Writes_of_many_grains_that_arrive_while_the_database_is_busy_share_a_transaction(string storage)
    {
        await StartAsync(storage);
        var writes = _gateway.Services.GetRequiredService<GrainStateWrites>();
        var grains = Enumerable.Range(0, 50).Select(i => GrainId.Create(TestType, $"grain-{i}")).ToList();
        var states = grains.Select((_, i) => new GrainState<Note>(new Note { Text = $"note {i}" })).ToList();

        var commitsBefore = writes.Commits;
        var pending = await WhileBusyAsync(() =>
        {
            var started = grains.Select((grain, i) => Storage.WriteStateAsync("note", grain, states[i])).ToList();
            if (_postgres is null)
            {
                // Nothing is answered while the database is held: an answer means committed.
                Assert.All(started, p => Assert.False(p.IsCompleted));
            }
            return started;
        });
        await Task.WhenAll(pending);

        // SQLite: one drain took the whole queue in one transaction (another grain of the idle silo may add one of its
        // own). PostgreSQL: the first write's transaction may leave with it alone; the rest queue behind it and share.
        Assert.InRange(writes.Commits - commitsBefore, 1, _postgres is null ? 2 : 4);
        Assert.All(states, s => Assert.Equal(("1", true), (s.ETag, s.RecordExists)));
        for (var i = 0; i < grains.Count; i++)
        {
            var read = new GrainState<Note>();
            await Storage.ReadStateAsync("note", grains[i], read);
            Assert.Equal(($"note {i}", "1", true), (read.State!.Text, read.ETag, read.RecordExists));
        }
        Assert.Equal(50L, await CountRowsAsync("note"));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_stale_write_fails_alone_and_the_others_in_its_transaction_commit(string storage)
    {
        await StartAsync(storage);
        var first = GrainId.Create(TestType, "stale");
        var second = GrainId.Create(TestType, "fresh");
        var stored = new GrainState<Note>(new Note { Text = "v1" });
        await Storage.WriteStateAsync("note-stale", first, stored);
        Assert.Equal("1", stored.ETag);

        var stale = new GrainState<Note>(new Note { Text = "from a stale activation" }) { ETag = null };
        var fresh = new GrainState<Note>(new Note { Text = "fresh" });
        var current = new GrainState<Note>(new Note { Text = "v2" }) { ETag = "1", RecordExists = true };
        var (staleWrite, freshWrite, currentWrite) = await WhileBusyAsync(() => (
            Storage.WriteStateAsync("note-stale", first, stale),
            Storage.WriteStateAsync("note-stale", second, fresh),
            Storage.WriteStateAsync("note-stale", first, current)));

        await Assert.ThrowsAsync<InconsistentStateException>(() => staleWrite);
        await freshWrite;
        await currentWrite;
        Assert.Equal("2", current.ETag);
        var read = new GrainState<Note>();
        await Storage.ReadStateAsync("note-stale", first, read);
        Assert.Equal(("v2", "2"), (read.State!.Text, read.ETag));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Rows_of_every_key_kind_are_found_and_deleted_by_the_providers_own_queries(string storage)
    {
        await StartAsync(storage);
        var grains = new[]
        {
            GrainId.Create(TestType, "a string key"),
            GrainId.Create(TestType, GrainIdKeyExtensions.CreateIntegerKey(42)),
            GrainId.Create(TestType, GrainIdKeyExtensions.CreateIntegerKey(43, "with extension")),
            GrainId.Create(TestType, GrainIdKeyExtensions.CreateGuidKey(Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e"))),
            GrainId.Create(TestType, GrainIdKeyExtensions.CreateGuidKey(Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7"), "ext")),
        };
        foreach (var grain in grains)
        {
            var state = new GrainState<Note>(new Note { Text = grain.ToString() });
            await Storage.WriteStateAsync("note-keys", grain, state);

            // Read back through the ADO.NET provider's read, which selects by its own hashes of the key and type.
            var read = new GrainState<Note>();
            await Storage.ReadStateAsync("note-keys", grain, read);
            Assert.Equal((grain.ToString(), "1", true), (read.State!.Text, read.ETag, read.RecordExists));

            // Its delete (by the same hashes and the version) finds the row too.
            await Storage.ClearStateAsync("note-keys", grain, read);
        }
        Assert.Equal(0L, await CountRowsAsync("note-keys"));
    }

    private async Task<long> CountRowsAsync(string stateName)
    {
        const string Sql = "SELECT count(*) FROM OrleansStorage WHERE GrainTypeString = @type";
        if (_postgres is not null)
        {
            await using var pg = new NpgsqlConnection(_postgres.TestConnectionString);
            await pg.OpenAsync();
            await using var pgCount = new NpgsqlCommand(Sql, pg);
            pgCount.Parameters.AddWithValue("type", stateName);
            return (long)(await pgCount.ExecuteScalarAsync())!;
        }
        await using var connection = new SqliteConnection(_gateway.Services.GetRequiredService<IConfiguration>().GetConnectionString("Orleans"));
        await connection.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = Sql;
        count.Parameters.AddWithValue("@type", stateName);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public sealed class Note
    {
        public string Text { get; set; } = "";
    }
}
