using Orleans.Search.Storage;

namespace Orleans.Search.Jobs;

public sealed class ActiveJobsState
{
    public HashSet<string> JobIds { get; set; } = [];
}

public sealed class ActiveJobsGrain(
    [PersistentState("active-jobs", SearchStorage.Name)] IPersistentState<ActiveJobsState> state,
    ILogger<ActiveJobsGrain> logger) : Grain, IActiveJobsGrain
{
    async Task IActiveJobsGrain.AddAsync(string jobId)
    {
        if (state.State.JobIds.Add(jobId))
        {
            await state.WriteStateAsync();
        }
    }

    async Task IActiveJobsGrain.RemoveAsync(string jobId)
    {
        if (state.State.JobIds.Remove(jobId))
        {
            await state.WriteStateAsync();
        }
    }

    async Task<int> IActiveJobsGrain.ResumeAllAsync()
    {
        var ids = state.State.JobIds.ToList();
        var failures = await Task.WhenAll(ids.Select(async id =>
        {
            try
            {
                await GrainFactory.GetGrain<ISearchJobGrain>(id).ResumeAsync();
                return null;
            }
            catch (Exception ex)
            {
                logger.LogWarning("Resuming job {JobId} failed: {Error}", id, ex.Message);
                return ex;
            }
        }));
        // Every job was tried; the caller retries the shard (resuming is idempotent) and the reminders are the backstop.
        if (failures.OfType<Exception>().FirstOrDefault() is { } first)
        {
            throw new InvalidOperationException(
                $"{failures.Count(f => f is not null)} of {ids.Count} jobs could not be resumed; first error: {first.Message}");
        }
        return ids.Count;
    }
}
