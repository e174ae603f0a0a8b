namespace Orleans.Search.Jobs;

/// <summary>Job lifecycle states, as they appear on the wire.</summary>
public static class JobStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static readonly IReadOnlyList<string> All = [Pending, Running, Completed, Failed, Cancelled];

    public static bool IsTerminal(string status) => status is Completed or Failed or Cancelled;
}

/// <summary>A job as callers see it.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobStatus")]
public sealed record JobStatus
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required string Status { get; init; }

    /// <summary>Measured share of planned work units done, 0–100; 100 only when completed.</summary>
    [Id(2)] public double Progress { get; init; }
    [Id(3)] public string? Message { get; init; }
    [Id(4)] public DateTimeOffset CreatedAt { get; init; }
    [Id(5)] public DateTimeOffset UpdatedAt { get; init; }
    [Id(6)] public DateTimeOffset? CompletedAt { get; init; }
    [Id(7)] public required string Provider { get; init; }
    [Id(8)] public int Pages { get; init; }
    [Id(9)] public IReadOnlyList<QueryStatus> Queries { get; init; } = [];
    [Id(10)] public required JobStats Stats { get; init; }

    /// <summary>Results of every query, in query, page and rank order; empty unless asked for.</summary>
    [Id(11)] public IReadOnlyList<SearchResult> Results { get; init; } = [];
    [Id(12)] public string? Error { get; init; }

    /// <summary>The sequence number of the newest event the job had published when this was taken.</summary>
    [Id(13)] public long LastSeq { get; init; }
}

/// <summary>One query of a job.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.QueryStatus")]
public sealed record QueryStatus
{
    [Id(0)] public required string Query { get; init; }
    [Id(1)] public required string Status { get; init; }
    [Id(2)] public int PagesDone { get; init; }
    [Id(3)] public int PagesTotal { get; init; }
    [Id(4)] public int ResultCount { get; init; }
    [Id(5)] public int Attempts { get; init; }
    [Id(6)] public string? Error { get; init; }
}

/// <summary>Counters of a job; rates are 0–1.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobStats")]
public sealed record JobStats
{
    [Id(0)] public int ApiCalls { get; init; }
    [Id(1)] public int CacheHits { get; init; }
    [Id(2)] public int CacheMisses { get; init; }
    [Id(3)] public double CacheHitRate { get; init; }
    [Id(4)] public int TotalResults { get; init; }
    [Id(5)] public int Errors { get; init; }
    [Id(6)] public double ErrorRate { get; init; }
    [Id(7)] public int Retries { get; init; }
    [Id(8)] public long RateLimitWaitMs { get; init; }
}

/// <summary>One search result.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.SearchResult")]
public sealed record SearchResult
{
    [Id(0)] public required string Url { get; init; }
    [Id(1)] public required string Title { get; init; }
    [Id(2)] public required string Snippet { get; init; }
    [Id(3)] public required string Query { get; init; }
    [Id(4)] public int Page { get; init; }

    /// <summary>1-based rank within its page.</summary>
    [Id(5)] public int Rank { get; init; }
    [Id(6)] public required string Provider { get; init; }
    [Id(7)] public IReadOnlyList<string> Queries { get; init; } = [];
}

/// <summary>One line of a caller's job list.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobSummary")]
public sealed record JobSummary
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required string Status { get; init; }
    [Id(2)] public DateTimeOffset CreatedAt { get; init; }
    [Id(3)] public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The first query, as a label.</summary>
    [Id(4)] public required string Title { get; init; }
    [Id(5)] public int QueryCount { get; init; }
}

/// <summary>A page of a caller's job list, newest first.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobList")]
public sealed record JobList
{
    [Id(0)] public IReadOnlyList<JobSummary> Items { get; init; } = [];

    /// <summary>Pass as <c>cursor</c> to get the next page; null at the end.</summary>
    [Id(1)] public string? NextCursor { get; init; }
}
