using Orleans.Search.Jobs;

namespace Orleans.Search.Queries;

/// <summary>
/// Runs one query of a job (key = <c>{jobId}/{index}</c>): its pages, each provider call through the rate
/// limiters with retries. Each finished page is checkpointed with its results before it is reported, so a
/// page is never fetched twice.
/// </summary>
[Alias("Orleans.Search.IQueryGrain")]
public interface IQueryGrain : IGrainWithStringKey
{
    /// <summary>Starts (or resumes) the query; idempotent. Returns its current summary.</summary>
    [Alias("Start")]
    Task<QueryReport> StartAsync(QueryWork work);

    /// <summary>Stops the query: in-flight calls are aborted and no new call starts, even if it had not started yet.</summary>
    [Alias("Cancel")]
    Task<QueryReport> CancelAsync(QueryWork work);

    /// <summary>The results checkpointed so far, in page and rank order.</summary>
    [Alias("GetResults"), ReadOnly]
    Task<IReadOnlyList<SearchResult>> GetResultsAsync();

    [Alias("GetDebug"), ReadOnly]
    Task<QueryDebug?> GetDebugAsync();

    /// <summary>Deletes the query's stored state (retention).</summary>
    [Alias("Delete")]
    Task DeleteAsync();
}

/// <summary>What a query grain needs to run.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.QueryWork")]
public sealed record QueryWork
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required int Index { get; init; }
    [Id(2)] public required string Query { get; init; }
    [Id(3)] public required string Provider { get; init; }
    [Id(4)] public required int Pages { get; init; }
    [Id(5)] public required string Owner { get; init; }
    [Id(6)] public bool UseCache { get; init; } = true;
}

/// <summary>
/// A query's full running summary. <see cref="Version"/> grows with every change, so the job applies
/// a report only if it is newer than what it has: duplicates and reordering are harmless.
/// </summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.QueryReport")]
public sealed record QueryReport
{
    [Id(0)] public required int Index { get; init; }
    [Id(1)] public required long Version { get; init; }
    [Id(2)] public required string Status { get; init; }

    /// <summary>Bit p-1 set when page p finished successfully.</summary>
    [Id(3)] public int PagesSucceeded { get; init; }

    /// <summary>Bit p-1 set when page p failed for good.</summary>
    [Id(4)] public int PagesFailed { get; init; }
    [Id(5)] public int ResultCount { get; init; }
    [Id(15)] public QueryCounters Counters { get; init; } = QueryCounters.Zero;
    [Id(13)] public string? Error { get; init; }

    /// <summary>Results found on each page, index p-1 for page p.</summary>
    [Id(14)] public IReadOnlyList<int> PageResultCounts { get; init; } = [];

    /// <summary>
    /// The results of succeeded pages no earlier report of this activation delivered, so the job's <c>page.completed</c>
    /// events can carry them. Best effort: the job's counts never depend on it.
    /// </summary>
    [Id(16)] public IReadOnlyList<SearchResult>? NewResults { get; init; }
}

/// <summary>Query lifecycle states.</summary>
public static class QueryStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsTerminal(string status) => status is Completed or Failed or Cancelled;
}
