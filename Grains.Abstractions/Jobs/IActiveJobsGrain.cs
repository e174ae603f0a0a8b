namespace Orleans.Search.Jobs;

/// <summary>
/// One shard of the cluster-wide set of unfinished jobs (key = shard number). Silos poke every job in it
/// at startup, so an unfinished job resumes within seconds instead of waiting for its reminder.
/// </summary>
[Alias("Orleans.Search.IActiveJobsGrain")]
public interface IActiveJobsGrain : IGrainWithIntegerKey
{
    /// <summary>Adds a job and returns once the shard's row holds it. Interleaves: concurrent adds share one write.</summary>
    [Alias("Add"), AlwaysInterleave]
    Task AddAsync(string jobId);

    /// <summary>Removes a job and returns once the shard's row no longer holds it. Interleaves like <see cref="AddAsync"/>.</summary>
    [Alias("Remove"), AlwaysInterleave]
    Task RemoveAsync(string jobId);

    /// <summary>
    /// Calls <see cref="ISearchJobGrain.ResumeAsync"/> on every job in the shard and drops, in one write, those that are
    /// finished or gone; returns how many are still unfinished. Throws after trying them all if any failed. Interleaves with
    /// <see cref="AddAsync"/> and <see cref="RemoveAsync"/>, so a job that ends (and leaves the shard) meanwhile never waits for it.
    /// </summary>
    [Alias("ResumeAllUnfinished"), AlwaysInterleave]
    Task<int> ResumeAllAsync();
}

/// <summary>How jobs map to <see cref="IActiveJobsGrain"/> shards.</summary>
public static class ActiveJobShards
{
    public const int Count = 8;

    /// <summary>A stable shard for a job id (string.GetHashCode is randomized per process).</summary>
    public static int Of(string jobId)
    {
        var hash = 2166136261u;
        foreach (var c in jobId)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return (int)(hash % Count);
    }
}
