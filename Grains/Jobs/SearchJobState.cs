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

    /// <summary>The pipeline's stages in order; planned at creation (the plan only shrinks after that).</summary>
    public List<StageState> Stages { get; set; } = [];

    public string? CurrentStep { get; set; }

    /// <summary>Deep mode: follow-up rounds whose queries were added.</summary>
    public int Round { get; set; }

    /// <summary>Read rounds finished (one after the first search, one after each follow-up round).</summary>
    public int ReadRounds { get; set; }

    /// <summary>Deep mode: the LLM said nothing is missing (or could not say); no more rounds.</summary>
    public bool FollowupsEnded { get; set; }

    /// <summary>Reads with their text cut to an excerpt (what the answer is written from).</summary>
    public List<Reading.PageRead> Reads { get; set; } = [];

    public string? Answer { get; set; }

    public List<Citation> Citations { get; set; } = [];

    public bool BudgetExhausted { get; set; }

    /// <summary>The LLM calls made, newest last (for <c>/debug</c>); bounded by <see cref="LlmCallRecord.MaxKept"/>.</summary>
    public List<LlmCallRecord> LlmCalls { get; set; } = [];

    /// <summary>
    /// The LLM call in flight, written before it is made: found here after a restart, it was cut by the crash, and it is
    /// counted (estimated) before its stage runs again.
    /// </summary>
    public LlmCallRecord? OpenLlmCall { get; set; }

    /// <summary>The highest progress shown, so a progress never goes back (also across a restart).</summary>
    public double ProgressShown { get; set; }

    /// <summary>
    /// Stored with the terminal status and cleared once the terminal webhook deliveries are enqueued: a crash in between
    /// leaves it set, and the job's reminder enqueues them (deliveries dedupe, so twice is once).
    /// </summary>
    public bool TerminalWebhooksOwed { get; set; }
}

/// <summary>One stage's record.</summary>
public sealed class StageState
{
    public string Name { get; set; } = "";

    public string Status { get; set; } = StageStates.Pending;

    public int UnitsDone { get; set; }

    public int UnitsTotal { get; set; }

    public Llm.TokenUsage Tokens { get; set; } = Llm.TokenUsage.None;

    public decimal CostUsd { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public string? Note { get; set; }
}

/// <summary>The job's view of one query: the newest report it applied.</summary>
public sealed class QuerySummary
{
    public string Query { get; set; } = "";

    public string Origin { get; set; } = QueryOrigins.User;

    public string Status { get; set; } = QueryStates.Pending;

    public long Version { get; set; }

    public int PagesSucceeded { get; set; }

    public int PagesFailed { get; set; }

    public List<int> PageResultCounts { get; set; } = [];

    public int ResultCount { get; set; }

    public QueryCounters Counters { get; set; } = QueryCounters.Zero;

    public string? Error { get; set; }
}
