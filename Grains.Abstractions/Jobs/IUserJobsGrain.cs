namespace Orleans.Search.Jobs;

/// <summary>The per-user index of jobs (key = user id), for listing and admission.</summary>
[Alias("Orleans.Search.IUserJobsGrain")]
public interface IUserJobsGrain : IGrainWithStringKey
{
    /// <summary>Adds or updates a job's line.</summary>
    [Alias("Upsert")]
    Task UpsertAsync(JobSummary summary);

    [Alias("Remove")]
    Task RemoveAsync(string jobId);

    /// <summary>The caller's jobs, newest first, optionally of one status.</summary>
    [Alias("List"), ReadOnly]
    Task<JobList> ListAsync(string? status, int limit, string? cursor);

    /// <summary>How many of the user's jobs are pending or running.</summary>
    [Alias("CountActive"), ReadOnly]
    Task<int> CountActiveAsync();
}

/// <summary>
/// One shard of the cluster-wide set of unfinished jobs (key = shard number). Silos poke every job in it
/// at startup, so an unfinished job resumes within seconds instead of waiting for its reminder.
/// </summary>
[Alias("Orleans.Search.IActiveJobsGrain")]
public interface IActiveJobsGrain : IGrainWithIntegerKey
{
    [Alias("Add")]
    Task AddAsync(string jobId);

    [Alias("Remove")]
    Task RemoveAsync(string jobId);

    /// <summary>Calls <see cref="ISearchJobGrain.ResumeAsync"/> on every job in the shard; returns how many.</summary>
    [Alias("ResumeAll")]
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
