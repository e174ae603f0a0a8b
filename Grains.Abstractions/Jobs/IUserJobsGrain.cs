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
    /// Admits and submits a job in one call: reserves a place while every limit in <paramref name="limits"/> has room
    /// (counting jobs admitted but not indexed yet, so concurrent creates cannot overshoot a limit), submits the job with
    /// <see cref="ISearchJobGrain.SubmitAsync"/>, and releases the reservation once the job indexed itself (or was not
    /// created). With <paramref name="idempotent"/> (the job id comes from an <c>Idempotency-Key</c>) a retry of a job that
    /// exists is never refused, and concurrent submissions of one id make one job.
    /// </summary>
    /// <remarks>
    /// Interleaves with the grain's other calls: the submitted job indexes itself with <see cref="UpsertAsync"/> before it
    /// answers, and other creates of the user go on meanwhile. Admission's own counting runs without an await.
    /// </remarks>
    [Alias("SubmitJob"), AlwaysInterleave]
    Task<JobSubmitOutcome> SubmitAsync(JobSubmission submission, JobLimits limits, bool idempotent);
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

/// <summary>Admission's answer: admitted, or refused by a limit (then with what to tell the caller).</summary>
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

/// <summary>The answer of <see cref="IUserJobsGrain.SubmitAsync"/>: exactly one of its members is set.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobSubmitOutcome")]
public sealed record JobSubmitOutcome
{
    /// <summary>Admitted: the job's status (a new job's, or the existing one's on a retry).</summary>
    [Id(0)] public JobStatus? Status { get; init; }

    /// <summary>Refused by a limit.</summary>
    [Id(1)] public JobAdmission? Refusal { get; init; }

    /// <summary>The id is taken by a job with another request (an <c>Idempotency-Key</c> reused with another body).</summary>
    [Id(2)] public string? Conflict { get; init; }

    public static JobSubmitOutcome Admitted(JobStatus status) => new() { Status = status };

    public static JobSubmitOutcome Refused(JobAdmission refusal) => new() { Refusal = refusal };

    public static JobSubmitOutcome Conflicting(string message) => new() { Conflict = message };
}
