namespace Orleans.Search.Jobs;

/// <summary>
/// A job's stored state, kept small on purpose: spec, per-query summaries, counters and a bounded event tail.
/// Results live with their query grains and are assembled when asked for.
/// </summary>
public sealed class SearchJobState
{
    public JobSubmission? Spec { get; set; }

    public string Status { get; set; } = JobStates.Pending;

    public string? Message { get; set; }

    public string? Error { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public List<QuerySummary> Queries { get; set; } = [];

    /// <summary>The next event's sequence number.</summary>
    public long NextSeq { get; set; } = 1;

    public List<JobEvent> Events { get; set; } = [];
}

/// <summary>The job's view of one query: the newest report it applied.</summary>
public sealed class QuerySummary
{
    public string Query { get; set; } = "";

    public string Status { get; set; } = QueryStates.Pending;

    public long Version { get; set; }

    public int PagesSucceeded { get; set; }

    public int PagesFailed { get; set; }

    public List<int> PageResultCounts { get; set; } = [];

    public int ResultCount { get; set; }

    public int Attempts { get; set; }

    public int ApiCalls { get; set; }

    public int Retries { get; set; }

    public int CacheHits { get; set; }

    public int CacheMisses { get; set; }

    public long RateLimitWaitMs { get; set; }

    public int Errors { get; set; }

    public string? Error { get; set; }
}
