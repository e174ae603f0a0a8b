using Orleans.Search.Queries;

namespace Orleans.Search.Jobs;

/// <summary>
/// Owns one search job (key = job id): its spec, status, per-query summaries, counters and event tail.
/// Fans the job out to one <see cref="Queries.IQueryGrain"/> per query and resumes by itself after a crash.
/// Methods that take a <c>requester</c> answer null when the job does not exist or belongs to someone else.
/// </summary>
[Alias("Orleans.Search.ISearchJobGrain")]
public interface ISearchJobGrain : IGrainWithStringKey
{
    /// <summary>Creates the job, durably, and starts it. Idempotent: a second call with the same fingerprint returns the job as it is.</summary>
    /// <exception cref="JobConflictException">The id is taken by a job with another fingerprint or owner.</exception>
    [Alias("Submit")]
    Task<JobStatus> SubmitAsync(JobSubmission submission);

    /// <summary>The job's status, with its results if <paramref name="includeResults"/>.</summary>
    [Alias("GetStatus"), AlwaysInterleave]
    Task<JobStatus?> GetStatusAsync(string requester, bool includeResults);

    /// <summary>Cancels the job: in-flight provider calls are aborted, results found so far are kept.</summary>
    [Alias("Cancel")]
    Task<JobStatus?> CancelAsync(string requester);

    /// <summary>
    /// Erases the job and everything it stored (its row, its queries' rows, its index line, its reminder); a running job
    /// is cancelled first. False when there is no such job for <paramref name="requester"/> (never existed, already deleted,
    /// or someone else's).
    /// </summary>
    [Alias("Delete")]
    Task<bool> DeleteAsync(string requester);

    /// <summary>Retained events with a sequence number greater than <paramref name="afterSeq"/>.</summary>
    [Alias("GetEvents"), AlwaysInterleave]
    Task<JobEventPage?> GetEventsAsync(string requester, long afterSeq);

    /// <summary>Per-query attempts, timings, status codes, bytes and errors, and every read with why it was skipped or failed.</summary>
    [Alias("GetDebug"), AlwaysInterleave]
    Task<JobDebug?> GetDebugAsync(string requester);

    /// <summary>
    /// The results of one page the job counts as done, in rank order (empty when it does not count it): what a
    /// <c>page.completed</c> event replayed from the tail, which keeps no results, carried when it was live.
    /// Null for no job or another's.
    /// </summary>
    [Alias("GetPageResults"), AlwaysInterleave]
    Task<IReadOnlyList<SearchResult>?> GetPageResultsAsync(string requester, int queryIndex, int page);

    /// <summary>
    /// Makes sure unfinished work is running (called after a restart; harmless otherwise). Returns whether the job is still
    /// unfinished: false for a finished job or no job at all, which the caller may forget.
    /// </summary>
    [Alias("ResumeIfUnfinished")]
    Task<bool> ResumeAsync();

    /// <summary>A query grain reports its progress. Reports are idempotent and may arrive more than once.</summary>
    [Alias("ReportQuery")]
    Task ReportQueryAsync(QueryReport report);
}

/// <summary>Raised when a job id is already taken by a different request.</summary>
[GenerateSerializer, Alias("Orleans.Search.JobConflictException")]
public sealed class JobConflictException(string message) : Exception(message);
