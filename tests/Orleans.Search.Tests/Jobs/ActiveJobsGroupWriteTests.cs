using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Silo.Hosting;
using Orleans.Search.Silo.Storage;
using Orleans.TestingHost;

namespace Orleans.Search.Tests.Jobs;

/// <summary>
/// Creates arriving together on one active-job shard share its writes (group commit in the grain): each add is
/// answered only once stored, yet twenty adds cost two writes, not twenty.
/// </summary>
public sealed class ActiveJobsGroupWriteTests : IAsyncLifetime
{
    private const int Adds = 20;
    private readonly TempDatabase _database = new();
    private readonly AddCallProbe _probe = new();
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Orleans"] = _database.ConnectionString };
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(settings));
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddSearchSilo(silo.Configuration);
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(_probe);
        });
        builder.ConfigureClient(client => client.AddMemoryStreams(SearchStreams.ProviderName));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    [Fact]
    public async Task Concurrent_adds_to_a_shard_share_one_write_and_each_returns_once_stored()
    {
        var shard = _cluster.Client.GetGrain<IActiveJobsGrain>(0);
        await shard.AddAsync("warm-up"); // activates the shard and stores its row
        var before = await StoredVersionAsync();
        var ids = Enumerable.Range(0, Adds).Select(i => $"job-{i}-{Guid.NewGuid():N}").ToList();

        // Another write of this silo holds the turn that all its writes to the SQLite file take (an async lock, as when the
        // database is slow): the shard's next write waits for it, and the adds that arrive meanwhile must not wait behind
        // it one by one.
        var writeLock = _cluster.Silos[0].ServiceProvider.GetRequiredService<SqliteWriteLock>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = writeLock.TakeTurnAsync(() => release.Task);
        var adds = ids.Select(shard.AddAsync).ToList();
        // Every add has entered the grain while the first write is still held up: the calls interleave.
        await Eventually.ReturnsAsync(() => Task.FromResult(_probe.Entered), entered => entered >= Adds + 1,
            $"all {Adds} adds inside the shard while its first write waits", TimeSpan.FromSeconds(20));
        Assert.All(adds, add => Assert.False(add.IsCompleted, "an add answered before its change was stored"));
        release.SetResult();
        await holding;
        await Task.WhenAll(adds);

        // The first add's write, then one write for the nineteen that arrived while it waited.
        Assert.Equal(before + 2, await StoredVersionAsync());
        var stored = await StoredPayloadAsync();
        Assert.All(ids, id => Assert.Contains(id, stored, StringComparison.Ordinal));
    }

    private async Task<long> StoredVersionAsync() => (long)(await ScalarAsync("SELECT Version FROM OrleansStorage WHERE GrainTypeString = 'active-jobs'"))!;

    private async Task<string> StoredPayloadAsync() => (string)(await ScalarAsync("SELECT CAST(PayloadBinary AS TEXT) FROM OrleansStorage WHERE GrainTypeString = 'active-jobs'"))!;

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new SqliteConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
        _database.Dispose();
    }

    /// <summary>Counts the calls to <see cref="IActiveJobsGrain.AddAsync"/> that have started to run inside the grain.</summary>
    private sealed class AddCallProbe : IIncomingGrainCallFilter
    {
        private int _entered;

        public int Entered => Volatile.Read(ref _entered);

        public Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.InterfaceMethod is { Name: nameof(IActiveJobsGrain.AddAsync) } method && method.DeclaringType == typeof(IActiveJobsGrain))
            {
                Interlocked.Increment(ref _entered);
            }
            return context.Invoke();
        }
    }
}
