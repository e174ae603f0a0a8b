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
        await Task.WhenAll(ids.Select(async id =>
        {
            try
            {
                await GrainFactory.GetGrain<ISearchJobGrain>(id).ResumeAsync();
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Resuming job {JobId} failed; its reminder retries", id);
            }
        }));
        return ids.Count;
    }
}
