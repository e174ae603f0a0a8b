using Orleans.Search.Storage;

namespace Orleans.Search.Jobs;

public sealed class ActiveJobsState
{
    public HashSet<string> JobIds { get; set; } = [];
}

/// <summary>
/// One shard of the set of unfinished jobs. <see cref="IActiveJobsGrain.ResumeAllAsync"/> interleaves with adds and
/// removes (a job that ends during a sweep removes itself without waiting for the sweep, which may be waiting for that
/// very job), so every write goes through one gate.
/// </summary>
public sealed partial class ActiveJobsGrain(
    [PersistentState("active-jobs", SearchStorage.Name)] IPersistentState<ActiveJobsState> state,
    ILogger<ActiveJobsGrain> logger) : Grain, IActiveJobsGrain
{
    private readonly StateWriteGate<ActiveJobsState> _writes = new(state, logger);

    async Task IActiveJobsGrain.AddAsync(string jobId)
    {
        if (state.State.JobIds.Add(jobId))
        {
            await WriteOrUndoAsync(() => state.State.JobIds.Remove(jobId));
        }
    }

    async Task IActiveJobsGrain.RemoveAsync(string jobId)
    {
        if (state.State.JobIds.Remove(jobId))
        {
            await WriteOrUndoAsync(() => state.State.JobIds.Add(jobId));
        }
    }

    async Task<int> IActiveJobsGrain.ResumeAllAsync()
    {
        var ids = state.State.JobIds.ToList();
        var outcomes = await Task.WhenAll(ids.Select(async id =>
        {
            try
            {
                return (Id: id, Unfinished: await GrainFactory.GetGrain<ISearchJobGrain>(id).ResumeAsync(), Error: (Exception?)null);
            }
            catch (Exception ex)
            {
                LogResumeFailed(logger, ex, id);
                return (Id: id, Unfinished: true, Error: ex);
            }
        }));
        // Finished and missing jobs leave the shard together, in one write (each job removing itself would cost a write each).
        var gone = outcomes.Where(o => o.Error is null && !o.Unfinished).Select(o => o.Id).Where(state.State.JobIds.Remove).ToList();
        if (gone.Count > 0)
        {
            await WriteOrUndoAsync(() => state.State.JobIds.UnionWith(gone));
        }
        // Every job was tried; the caller retries the shard (resuming is idempotent) and the reminders are the backstop.
        var failures = outcomes.Where(o => o.Error is not null).ToList();
        if (failures.Count > 0)
        {
            throw new InvalidOperationException(
                $"{failures.Count} of {ids.Count} jobs could not be resumed; first error: {failures[0].Error!.Message}");
        }
        return outcomes.Count(o => o.Unfinished);
    }

    /// <summary>
    /// Writes; on failure puts the change back, so memory never claims what storage does not hold, and reloads on the
    /// next call (a write that failed may still have reached the database, leaving this activation's ETag behind).
    /// </summary>
    private async Task WriteOrUndoAsync(Action undo)
    {
        try
        {
            await _writes.WriteAsync();
        }
        catch
        {
            undo();
            DeactivateOnIdle();
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resuming job {JobId} failed")]
    private static partial void LogResumeFailed(ILogger logger, Exception exception, string jobId);
}
