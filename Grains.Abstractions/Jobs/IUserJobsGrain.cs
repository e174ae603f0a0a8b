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

    /// <summary>
    /// Admission of a job about to be submitted: admits it only while the user has fewer than <paramref name="maxActive"/>
    /// active jobs, counting jobs admitted but not yet indexed, so concurrent creates cannot overshoot the limit.
    /// A job already known is always admitted. Release the reservation once the job was submitted (or was not).
    /// </summary>
    [Alias("TryReserve")]
    Task<JobAdmission> TryReserveAsync(string jobId, int maxActive);

    [Alias("ReleaseReservation")]
    Task ReleaseReservationAsync(string jobId);
}

/// <summary>The answer of <see cref="IUserJobsGrain.TryReserveAsync"/>.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobAdmission")]
public sealed record JobAdmission
{
    [Id(0)] public bool Admitted { get; init; }

    /// <summary>Active jobs (reservations included) when asked, before this one.</summary>
    [Id(1)] public int Active { get; init; }
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

    /// <summary>Calls <see cref="ISearchJobGrain.ResumeAsync"/> on every job in the shard; returns how many. Throws after trying them all if any failed.</summary>
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
