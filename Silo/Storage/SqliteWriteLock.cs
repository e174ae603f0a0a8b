using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Storage;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// The one lock that this silo's writes to its SQLite database take turns on. SQLite takes one writer at a time, and
/// Microsoft.Data.Sqlite meets a busy database by putting the calling thread to sleep and trying again until the
/// command timeout; under many concurrent writes that parks thread-pool threads (the silo's scheduler threads) for tens
/// of milliseconds each. Taking turns on an async lock instead, a write that waits holds no thread, and the write that
/// runs never finds the database busy (other processes on the same file still can, and the driver's retry covers
/// them). Reads do not take it: with WAL they never wait for a writer.
/// </summary>
internal sealed class SqliteWriteLock
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Runs <paramref name="write"/> when no other write of this silo to the database is running.</summary>
    public async Task<T> TakeTurnAsync<T>(Func<Task<T>> write)
    {
        await _gate.WaitAsync();
        try
        {
            return await write();
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task TakeTurnAsync(Func<Task> write) => TakeTurnAsync(async () =>
    {
        await write();
        return true;
    });
}

/// <summary>The reminder table's writes take the same turns as the grain storage's (see <see cref="SqliteWriteLock"/>).</summary>
internal sealed class SerializedWriteReminderTable(IReminderTable inner, SqliteWriteLock writeLock) : IReminderTable
{
    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => inner.StopAsync(cancellationToken);

    public Task<ReminderTableData> ReadRows(GrainId grainId) => inner.ReadRows(grainId);

    public Task<ReminderTableData> ReadRows(GrainId grainId, CancellationToken cancellationToken) => inner.ReadRows(grainId, cancellationToken);

    public Task<ReminderTableData> ReadRows(uint begin, uint end) => inner.ReadRows(begin, end);

    public Task<ReminderTableData> ReadRows(uint begin, uint end, CancellationToken cancellationToken) => inner.ReadRows(begin, end, cancellationToken);

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => inner.ReadRow(grainId, reminderName);

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName, CancellationToken cancellationToken) => inner.ReadRow(grainId, reminderName, cancellationToken);

    public Task<string?> UpsertRow(ReminderEntry entry) => writeLock.TakeTurnAsync(() => inner.UpsertRow(entry));

    public Task<string?> UpsertRow(ReminderEntry entry, CancellationToken cancellationToken) => writeLock.TakeTurnAsync(() => inner.UpsertRow(entry, cancellationToken));

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) => writeLock.TakeTurnAsync(() => inner.RemoveRow(grainId, reminderName, eTag));

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken) =>
        writeLock.TakeTurnAsync(() => inner.RemoveRow(grainId, reminderName, eTag, cancellationToken));

    public Task TestOnlyClearTable() => writeLock.TakeTurnAsync(() => inner.TestOnlyClearTable());

    public Task TestOnlyClearTable(CancellationToken cancellationToken) => writeLock.TakeTurnAsync(() => inner.TestOnlyClearTable(cancellationToken));
}

internal static class SqliteWriteServiceCollectionExtensions
{
    /// <summary>
    /// Wraps the reminder table (already registered) so that its writes take the same turns as the grain storages'.
    /// </summary>
    public static IServiceCollection SerializeReminderTableWrites(this IServiceCollection services)
    {
        services.TryAddSingleton<SqliteWriteLock>();
        var original = services.LastOrDefault(d => d.ServiceType == typeof(IReminderTable) && !d.IsKeyedService)
            ?? throw new InvalidOperationException("The reminder table must be registered before its writes can be serialized.");
        services.Remove(original);
        services.AddSingleton<IReminderTable>(sp =>
        {
            var inner = (IReminderTable)(original.ImplementationFactory?.Invoke(sp)
                ?? original.ImplementationInstance
                ?? ActivatorUtilities.CreateInstance(sp, original.ImplementationType!));
            return new SerializedWriteReminderTable(inner, sp.GetRequiredService<SqliteWriteLock>());
        });
        return services;
    }

    /// <summary>
    /// Group-commits the writes of the grain storages named <paramref name="names"/> (already registered, ADO.NET on the
    /// database at <paramref name="connectionString"/>): all of them share one queue of transactions, which on SQLite take
    /// the silo's write turns. Reads and clears stay with the registered storages.
    /// </summary>
    public static IServiceCollection GroupCommitGrainStorageWrites(this IServiceCollection services, bool postgres, string connectionString, params string[] names)
    {
        if (postgres)
        {
            services.TryAddSingleton<GrainStateWrites>(_ => new PostgresStateWrites(connectionString));
        }
        else
        {
            services.TryAddSingleton<SqliteWriteLock>();
            services.TryAddSingleton<GrainStateWrites>(sp => new SqliteStateWrites(connectionString, sp.GetRequiredService<SqliteWriteLock>()));
        }
        foreach (var name in names)
        {
            services.DecorateGrainStorage(name, (sp, inner) => new GroupCommitGrainStorage(
                name,
                inner,
                sp.GetRequiredService<GrainStateWrites>(),
                sp.GetRequiredService<IOptionsMonitor<AdoNetGrainStorageOptions>>().Get(name).GrainStorageSerializer
                    ?? throw new InvalidOperationException($"Grain storage '{name}' has no serializer."),
                sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
                postgres ? null : sp.GetRequiredService<SqliteWriteLock>()));
        }
        return services;
    }

    /// <summary>Wraps the grain storage named <paramref name="name"/> (already registered) in what <paramref name="wrap"/> makes of it.</summary>
    public static IServiceCollection DecorateGrainStorage(this IServiceCollection services, string name, Func<IServiceProvider, IGrainStorage, IGrainStorage> wrap)
    {
        var original = services.LastOrDefault(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name))
            ?? throw new InvalidOperationException($"Grain storage '{name}' must be registered before it can be wrapped.");
        services.Remove(original);
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) => wrap(sp, (IGrainStorage)(original.KeyedImplementationFactory?.Invoke(sp, key)
            ?? original.KeyedImplementationInstance
            ?? ActivatorUtilities.CreateInstance(sp, original.KeyedImplementationType!))));
        return services;
    }
}
