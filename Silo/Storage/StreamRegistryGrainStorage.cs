using Orleans.Search.Storage;
using Orleans.Storage;

namespace Orleans.Search.Silo.Storage;

/// <summary>
/// The pub-sub store under Orleans' stream registry, aware that a deleted job erases its stream's row
/// (<see cref="IStreamRegistryStore"/>) while the registry's activation may still hold that row in memory. When such
/// an activation later writes or clears a job stream's row (a follower leaving, the pulling agent letting the quiet
/// stream go) and finds it gone, it is told the registry is empty, as it now is, and the row stays erased, instead of
/// a version conflict that fails the call and logs errors. Any other conflict, and every other stream, is left as is.
/// </summary>
internal sealed class StreamRegistryGrainStorage(IGrainStorage inner) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var hadRow = grainState.RecordExists;
        try
        {
            await inner.WriteStateAsync(stateName, grainId, grainState);
        }
        catch (InconsistentStateException) when (IsJobStream(grainId))
        {
            if (!await WasErasedAsync(stateName, grainId, grainState))
            {
                throw;
            }
            return;
        }
        // A versioned write over a row that is gone updates nothing, and the ADO.NET provider reports that as a version
        // of null rather than a conflict; the next write would then insert the row again. Take the erased registry now.
        if (hadRow && grainState.ETag is null && IsJobStream(grainId))
        {
            await WasErasedAsync(stateName, grainId, grainState);
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        try
        {
            await inner.ClearStateAsync(stateName, grainId, grainState);
        }
        catch (InconsistentStateException) when (IsJobStream(grainId))
        {
            if (!await WasErasedAsync(stateName, grainId, grainState))
            {
                throw;
            }
        }
    }

    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);

    private static bool IsJobStream(GrainId grainId) =>
        grainId.Type.ToString() == StreamRegistryKeys.GrainType && grainId.Key.ToString().StartsWith(StreamRegistryKeys.JobStreamPrefix, StringComparison.Ordinal);

    /// <summary>True (and <paramref name="grainState"/> set to the empty registry) when the row is gone.</summary>
    private async Task<bool> WasErasedAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var stored = new GrainState<T>();
        await inner.ReadStateAsync(stateName, grainId, stored);
        if (stored.RecordExists)
        {
            return false;
        }
        grainState.State = stored.State;
        grainState.ETag = null;
        grainState.RecordExists = false;
        return true;
    }
}
