using Microsoft.Data.Sqlite;
using Orleans.Search.Silo.Storage;
using Orleans.Search.Storage;
using Orleans.Storage;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// The silo's SQLite grain storage group-commits the writes of all grains: writes that arrive while the database is
/// busy share one transaction, each is answered only once committed, a stale write fails alone, and the rows are the
/// ADO.NET provider's own (its read and delete queries, which look rows up by its hashes, find them).
/// </summary>
public sealed class GroupCommitStorageTests : IAsyncLifetime
{
    private static readonly GrainType TestType = GrainType.Create("group-commit-test");
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private IGrainStorage Storage => _gateway.Services.GetRequiredKeyedService<IGrainStorage>(SearchStorage.Name);

    [Fact]
    public async Task Writes_of_many_grains_that_arrive_while_the_database_is_busy_share_one_transaction()
    {
        var writes = _gateway.Services.GetRequiredService<SqliteStateWrites>();
        var writeLock = _gateway.Services.GetRequiredService<SqliteWriteLock>();
        var grains = Enumerable.Range(0, 50).Select(i => GrainId.Create(TestType, $"grain-{i}")).ToList();
        var states = grains.Select((_, i) => new GrainState<Note>(new Note { Text = $"note {i}" })).ToList();

        var hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = writeLock.TakeTurnAsync(() => hold.Task);
        var commitsBefore = writes.Commits;
        var pending = grains.Select((grain, i) => Storage.WriteStateAsync("note", grain, states[i])).ToList();
        // Nothing is answered while the database is held: an answer means committed.
        Assert.All(pending, p => Assert.False(p.IsCompleted));
        hold.SetResult(true);
        await held;
        await Task.WhenAll(pending);

        // One drain took the whole queue in one transaction (another grain of the idle silo may add one of its own).
        Assert.InRange(writes.Commits - commitsBefore, 1, 2);
        Assert.All(states, s => Assert.Equal(("1", true), (s.ETag, s.RecordExists)));
        for (var i = 0; i < grains.Count; i++)
        {
            var read = new GrainState<Note>();
            await Storage.ReadStateAsync("note", grains[i], read);
            Assert.Equal(($"note {i}", "1", true), (read.State!.Text, read.ETag, read.RecordExists));
        }
        Assert.Equal(50L, await CountRowsAsync("note"));
    }

    [Fact]
    public async Task A_stale_write_fails_alone_and_the_others_in_its_transaction_commit()
    {
        var writeLock = _gateway.Services.GetRequiredService<SqliteWriteLock>();
        var first = GrainId.Create(TestType, "stale");
        var second = GrainId.Create(TestType, "fresh");
        var stored = new GrainState<Note>(new Note { Text = "v1" });
        await Storage.WriteStateAsync("note-stale", first, stored);
        Assert.Equal("1", stored.ETag);

        var hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = writeLock.TakeTurnAsync(() => hold.Task);
        var stale = new GrainState<Note>(new Note { Text = "from a stale activation" }) { ETag = null };
        var fresh = new GrainState<Note>(new Note { Text = "fresh" });
        var current = new GrainState<Note>(new Note { Text = "v2" }) { ETag = "1", RecordExists = true };
        var staleWrite = Storage.WriteStateAsync("note-stale", first, stale);
        var freshWrite = Storage.WriteStateAsync("note-stale", second, fresh);
        var currentWrite = Storage.WriteStateAsync("note-stale", first, current);
        hold.SetResult(true);
        await held;

        await Assert.ThrowsAsync<InconsistentStateException>(() => staleWrite);
        await freshWrite;
        await currentWrite;
        Assert.Equal("2", current.ETag);
        var read = new GrainState<Note>();
        await Storage.ReadStateAsync("note-stale", first, read);
        Assert.Equal(("v2", "2"), (read.State!.Text, read.ETag));
    }

    [Fact]
    public async Task Rows_of_every_key_kind_are_found_and_deleted_by_the_providers_own_queries()
    {
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
        await using var connection = new SqliteConnection(_gateway.Services.GetRequiredService<IConfiguration>().GetConnectionString("Orleans"));
        await connection.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM OrleansStorage WHERE GrainTypeString = @type";
        count.Parameters.AddWithValue("@type", stateName);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    public sealed class Note
    {
        public string Text { get; set; } = "";
    }
}
