namespace Orleans.Search.Jobs;

/// <summary>
/// The per-user index of jobs (key = user id): listing, and the admission point of the user's new jobs. The index itself
/// is one stored row per job; the grain keeps only the counts admission needs.
/// </summary>
[Alias("Orleans.Search.IUserJobsGrain")]
public interface IUserJobsGrain : IGrainWithStringKey
{
    /// <summary>Adds or updates a job's line.</summary>
    [Alias("Upsert")]
    Task UpsertAsync(JobSummary summary);

    /// <summary>Removes a job's line (the job was deleted).</summary>
    [Alias("Remove")]
    Task RemoveAsync(string jobId);

    /// <summary>The caller's jobs, newest first, optionally of one status.</summary>
    [Alias("List"), ReadOnly]
    Task<JobList> ListAsync(string? status, int limit, string? cursor);

    /// <summary>How many of the user's jobs are pending or running.</summary>
    [Alias("CountActive"), ReadOnly]
    Task<int> CountActiveAsync();

    /// <summary>
    /// Admission of a job about to be submitted: admits it only while every limit in <paramref name="limits"/> has room,
    /// counting jobs admitted but not indexed yet, so concurrent creates cannot overshoot a limit. A job already reserved
    /// is admitted again. Release the reservation once the job was submitted (or was not).
    /// </summary>
    [Alias("TryReserveJob")]
    Task<JobAdmission> TryReserveAsync(string jobId, JobLimits limits);

    [Alias("ReleaseReservation")]
    Task ReleaseReservationAsync(string jobId);
}

/// <summary>A user's job limits as admission applies them; 0 turns a limit off.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobLimits")]
public sealed record JobLimits
{
    /// <summary>Pending or running jobs at once.</summary>
    [Id(0)] public int MaxActiveJobs { get; init; }

    /// <summary>Jobs created in any minute (a sliding window).</summary>
    [Id(1)] public int MaxJobsPerMinute { get; init; }

    /// <summary>Jobs kept, finished ones included, until deleted or past their retention.</summary>
    [Id(2)] public int MaxStoredJobs { get; init; }

    public bool Any => MaxActiveJobs > 0 || MaxJobsPerMinute > 0 || MaxStoredJobs > 0;
}

/// <summary>Which limit refused a job.</summary>
public static class JobLimitNames
{
    public const string Active = "active";
    public const string PerMinute = "per-minute";
    public const string Stored = "stored";
}

/// <summary>The answer of <see cref="IUserJobsGrain.TryReserveAsync"/>.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobAdmission")]
public sealed record JobAdmission
{
    [Id(0)] public bool Admitted { get; init; }

    /// <summary>When refused: the limit that refused it (<see cref="JobLimitNames"/>).</summary>
    [Id(1)] public string? Limit { get; init; }

    /// <summary>When refused: what that limit counts now (reservations included), and its maximum.</summary>
    [Id(2)] public int Count { get; init; }

    [Id(3)] public int Max { get; init; }

    /// <summary>When refused: when a retry may be admitted.</summary>
    [Id(4)] public TimeSpan RetryAfter { get; init; }
}

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
