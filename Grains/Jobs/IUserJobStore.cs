namespace Orleans.Search.Jobs;

/// <summary>
/// The per-user job index: one row per job, keyed by (service, user, job) and read newest first (creation time, then
/// job id, both descending) by keyset. A change writes that job's row only, so its cost does not grow with the user's
/// history. A user's <see cref="UserJobsGrain"/> is the only writer of that user's rows.
/// </summary>
public interface IUserJobStore
{
    /// <summary>What admission counts: stored jobs, active ones, and the creation times since <paramref name="createdSince"/>.</summary>
    Task<UserJobCounts> CountAsync(string userId, DateTimeOffset createdSince, CancellationToken cancellationToken = default);

    /// <summary>Inserts the job's row or updates it (its creation time stays); returns the status it had, or null when it is new.</summary>
    Task<string?> UpsertAsync(string userId, JobSummary summary, CancellationToken cancellationToken = default);

    /// <summary>Deletes the job's row; returns the status it had, or null when there was none.</summary>
    Task<string?> RemoveAsync(string userId, string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> rows, newest first, strictly after <paramref name="after"/> in that order, optionally
    /// of one <paramref name="status"/>.
    /// </summary>
    Task<IReadOnlyList<JobSummary>> ListAsync(string userId, string? status, int limit, JobPosition? after, CancellationToken cancellationToken = default);

    /// <summary>The last update of the user's earliest-updated finished job (about when it finished), or null when none finished.</summary>
    Task<DateTimeOffset?> OldestFinishedAsync(string userId, CancellationToken cancellationToken = default);
}

/// <summary>A place in a user's job list: the creation time and id of a job.</summary>
public readonly record struct JobPosition(DateTimeOffset CreatedAt, string JobId);

/// <summary>What <see cref="IUserJobStore.CountAsync"/> found.</summary>
public sealed record UserJobCounts(int Stored, int Active, IReadOnlyList<DateTimeOffset> CreatedSince);
