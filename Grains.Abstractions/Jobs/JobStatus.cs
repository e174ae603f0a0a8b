using Orleans.Search.Queries;

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

    /// <summary>Results of every query fused: one entry per normalized URL, best first (reciprocal rank fusion), each with the queries that found it; empty unless asked for.</summary>
    [Id(11)] public IReadOnlyList<SearchResult> Results { get; init; } = [];
    [Id(12)] public string? Error { get; init; }

    /// <summary>The sequence number of the newest event the job had published when this was taken.</summary>
    [Id(13)] public long LastSeq { get; init; }

    /// <summary>The stage running now (<see cref="StageNames"/>); null before the first and after the end.</summary>
    [Id(14)] public string? CurrentStep { get; init; }

    /// <summary>The job's stages in pipeline order, with their planned and done units, tokens and cost.</summary>
    [Id(15)] public IReadOnlyList<StageStatus> Stages { get; init; } = [];

    /// <summary>One entry per URL the read stage took on, read or not (text left out).</summary>
    [Id(16)] public IReadOnlyList<Reading.PageRead> Reads { get; init; } = [];

    /// <summary>The LLM's answer, markdown with <c>[n]</c> markers that map to <see cref="Citations"/>.</summary>
    [Id(17)] public string? Answer { get; init; }
    [Id(18)] public IReadOnlyList<Citation> Citations { get; init; } = [];

    /// <summary>True when an LLM call was not made because its worst case would have passed the budget.</summary>
    [Id(19)] public bool BudgetExhausted { get; init; }

    [Id(20)] public string Mode { get; init; } = JobModes.Search;

    /// <summary>Deep mode: follow-up rounds started so far.</summary>
    [Id(21)] public int Round { get; init; }
}

/// <summary>Pipeline stage names, in order.</summary>
public static class StageNames
{
    public const string Expand = "expand";
    public const string Search = "search";
    public const string Read = "read";

    /// <summary>Deep mode: the LLM names what is still missing as follow-up queries.</summary>
    public const string Followup = "followup";
    public const string Answer = "answer";
}

/// <summary>Stage states on the wire.</summary>
public static class StageStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";

    /// <summary>Not run: cancelled, out of budget, or nothing to do.</summary>
    public const string Skipped = "skipped";

    public static bool IsEnded(string status) => status is Completed or Failed or Skipped;
}

/// <summary>One stage of a job.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.StageStatus")]
public sealed record StageStatus
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public required string Status { get; init; }
    [Id(2)] public int UnitsDone { get; init; }

    /// <summary>Planned units; a plan only ever shrinks (a deep round not needed, fewer sub-queries than asked).</summary>
    [Id(3)] public int UnitsTotal { get; init; }
    [Id(4)] public Llm.TokenUsage Tokens { get; init; } = Llm.TokenUsage.None;
    [Id(5)] public decimal CostUsd { get; init; }
    [Id(6)] public DateTimeOffset? StartedAt { get; init; }
    [Id(7)] public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>What happened worth knowing (a repaired LLM output, a fallback, a budget stop).</summary>
    [Id(8)] public string? Note { get; init; }
}

/// <summary>A source the answer cites as <c>[n]</c>.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.Citation")]
public sealed record Citation
{
    [Id(0)] public int N { get; init; }
    [Id(1)] public required string Url { get; init; }
    [Id(2)] public string? Title { get; init; }
}

/// <summary>Where a query came from.</summary>
public static class QueryOrigins
{
    public const string User = "user";
    public const string Expand = "expand";
    public const string Followup = "followup";
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

    /// <summary><see cref="QueryOrigins"/>: the caller, the expansion, or a deep round's follow-up.</summary>
    [Id(7)] public string Origin { get; init; } = QueryOrigins.User;
}

/// <summary>Counters of a job (its queries' <see cref="QueryCounters"/> summed), rates 0–1, and LLM tokens and cost.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobStats")]
public sealed record JobStats : QueryCounters
{
    [Id(0)] public double CacheHitRate { get; init; }
    [Id(1)] public int TotalResults { get; init; }
    [Id(2)] public double ErrorRate { get; init; }

    /// <summary>Every token the job was billed: its LLM calls and search providers that answer with an LLM.</summary>
    [Id(3)] public Llm.TokenUsage Tokens { get; init; } = Llm.TokenUsage.None;

    /// <summary><see cref="Tokens"/> at the configured prices.</summary>
    [Id(4)] public decimal CostUsd { get; init; }
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

    /// <summary>For a hit in a file (<c>code</c>): its path relative to the searched folder.</summary>
    [Id(8)] public string? Path { get; init; }

    /// <summary>For a hit in a file: the 1-based line that matched (the snippet holds it with its context lines).</summary>
    [Id(9)] public int? Line { get; init; }
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
