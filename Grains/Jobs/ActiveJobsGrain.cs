using Orleans.Search.Storage;

namespace Orleans.Search.Jobs;

public sealed class ActiveJobsState
{
    public HashSet<string> JobIds { get; set; } = [];
}

/// <summary>
/// One shard of the set of unfinished jobs. Every call interleaves: <see cref="IActiveJobsGrain.ResumeAllAsync"/> with
/// adds and removes (a job that ends during a sweep removes itself without waiting for the sweep, which may be waiting
/// for that very job), and adds and removes with each other, so that the creates arriving while the shard writes share
/// its next write (group commit: 25 concurrent creates on a shard cost about two writes, not 25, each caller still
/// answered only once its change is stored). Every write goes through one gate.
/// </summary>
public sealed partial class ActiveJobsGrain(
    [PersistentState("active-jobs", SearchStorage.Name)] IPersistentState<ActiveJobsState> state,
    ILogger<ActiveJobsGrain> logger) : Grain, IActiveJobsGrain
{
    private readonly StateWriteGate<ActiveJobsState> _writes = new(state, logger);

    Task IActiveJobsGrain.AddAsync(string jobId) => state.State.JobIds.Add(jobId)
        ? WriteOrUndoAsync(() => state.State.JobIds.Remove(jobId))
        : UntilStoredAsync();

    Task IActiveJobsGrain.RemoveAsync(string jobId) => state.State.JobIds.Remove(jobId)
        ? WriteOrUndoAsync(() => state.State.JobIds.Add(jobId))
        : UntilStoredAsync();

    /// <summary>
    /// Nothing to change, but the change may be another caller's that is not stored yet (calls interleave): answer once
    /// the pending write is done, so "added" always means "stored".
    /// </summary>
    private Task UntilStoredAsync() => _writes.LastSharedWrite is { IsCompleted: false } pending ? pending : Task.CompletedTask;

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
    /// Writes (sharing a write that has not started yet); on failure each caller puts its own change back, so memory
    /// never claims what storage does not hold, and reloads on the next call (a write that failed may still have
    /// reached the database, leaving this activation's ETag behind).
    /// </summary>
    private async Task WriteOrUndoAsync(Action undo)
    {
        try
        {
            await _writes.WriteSharedAsync();
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
