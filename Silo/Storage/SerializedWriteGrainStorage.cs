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
internal sealed class SerializedWriteGrainStorage(IGrainStorage inner, SemaphoreSlim writeLock) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await writeLock.WaitAsync();
        try
        {
            await inner.WriteStateAsync(stateName, grainId, grainState);
        }
        finally
        {
            writeLock.Release();
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await writeLock.WaitAsync();
        try
        {
            await inner.ClearStateAsync(stateName, grainId, grainState);
        }
        finally
        {
            writeLock.Release();
        }
    }

    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
}

internal static class SerializedWriteGrainStorageExtensions
{
    /// <summary>
    /// Wraps the grain storages named <paramref name="names"/> (already registered) so that their writes take turns
    /// on one lock per process: use it for storages that share one SQLite database.
    /// </summary>
    public static IServiceCollection SerializeGrainStorageWrites(this IServiceCollection services, params string[] names)
    {
        var writeLock = new SemaphoreSlim(1, 1);
        foreach (var name in names)
        {
            var original = services.LastOrDefault(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name))
                ?? throw new InvalidOperationException($"Grain storage '{name}' must be registered before its writes can be serialized.");
            services.Remove(original);
            services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) =>
            {
                var inner = (IGrainStorage)(original.KeyedImplementationFactory?.Invoke(sp, key)
                    ?? original.KeyedImplementationInstance
                    ?? ActivatorUtilities.CreateInstance(sp, original.KeyedImplementationType!));
                return new SerializedWriteGrainStorage(inner, writeLock);
            });
        }
        return services;
    }
}
