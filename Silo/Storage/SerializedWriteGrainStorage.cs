using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Storage;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// SQLite takes one writer at a time, and Microsoft.Data.Sqlite meets a busy database by putting the calling thread
/// to sleep and trying again until the command timeout. Under many concurrent grain writes that parks thread-pool
/// threads (the silo's scheduler threads) for tens of milliseconds each, and a 2-core silo crawls. This decorator
/// makes the silo's writes to one SQLite database take turns on an async lock instead: a write that waits holds no
/// thread, and the write that runs never finds the database busy (other processes on the same file still can, and
/// the driver's retry still covers them). Reads are not serialized: with WAL they never wait for a writer.
/// Every write is still a committed transaction before it returns: durability is unchanged.
/// </summary>
internal sealed class SerializedWriteGrainStorage(IGrainStorage inner, SqliteWriteLock writeLock) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        writeLock.TakeTurnAsync(() => inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        writeLock.TakeTurnAsync(() => inner.ClearStateAsync(stateName, grainId, grainState));

    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
}

/// <summary>The one lock that this silo's writes to its SQLite database take turns on.</summary>
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

/// <summary>The reminder table's writes take the same turns as the grain storage's (see <see cref="SerializedWriteGrainStorage"/>).</summary>
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

internal static class SerializedWriteGrainStorageExtensions
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
    /// Wraps the grain storages named <paramref name="names"/> (already registered) so that their writes take turns
    /// on one lock per process: use it for storages that share one SQLite database.
    /// </summary>
    public static IServiceCollection SerializeGrainStorageWrites(this IServiceCollection services, params string[] names)
    {
        services.TryAddSingleton<SqliteWriteLock>();
        foreach (var name in names)
        {
            services.DecorateGrainStorage(name, (sp, inner) => new SerializedWriteGrainStorage(inner, sp.GetRequiredService<SqliteWriteLock>()));
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
