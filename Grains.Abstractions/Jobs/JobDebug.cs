namespace Orleans.Search.Jobs;

/// <summary>What happened inside a job, for diagnosing it.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobDebug")]
public sealed record JobDebug
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required string Status { get; init; }
    [Id(2)] public IReadOnlyList<QueryDebug> Queries { get; init; } = [];

    /// <summary>The pipeline's stages with their tokens and cost (the search stage's are its providers' billed tokens).</summary>
    [Id(3)] public IReadOnlyList<StageStatus> Stages { get; init; } = [];

    /// <summary>Every LLM call the job made, oldest first (the newest <c>LlmCallRecord.MaxKept</c>).</summary>
    [Id(4)] public IReadOnlyList<LlmCallRecord> LlmCalls { get; init; } = [];

    /// <summary>Every token the job was billed, and their cost: the same figures as the status's stats.</summary>
    [Id(5)] public Llm.TokenUsage Tokens { get; init; } = Llm.TokenUsage.None;
    [Id(6)] public decimal CostUsd { get; init; }

    /// <summary>
    /// Every URL the read stage took on, in the order they ended (text left out): status, bytes, content type, timings,
    /// and for a skip or a failure its <see cref="Reading.PageRead.Reason"/> (robots.txt, the outbound guard, content type,
    /// size, timeout, …) and its words.
    /// </summary>
    [Id(10)] public IReadOnlyList<Reading.PageRead> Reads { get; init; } = [];
}

/// <summary>How an LLM call of a job ended.</summary>
public static class LlmCallStates
{
    /// <summary>Made and not ended yet (a record still in this state after a restart was cut by the crash).</summary>
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    /// <summary>Cut by a crash of the process that made it: counted as far as the job had checkpointed it (prompt and answer text).</summary>
    public const string Interrupted = "interrupted";
}

/// <summary>One LLM call a stage made: what for, how it ended, how long it took, and the tokens it was billed.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.LlmCallRecord")]
public sealed record LlmCallRecord
{
    /// <summary>Records a job keeps; a job makes a handful of calls, more only when restarts re-run a stage.</summary>
    public const int MaxKept = 50;

    [Id(0)] public required string Stage { get; init; }

    /// <summary>Which prompt: <c>expand</c>, <c>expand-simpler</c> (the retry after invalid JSON), <c>followup</c> or <c>answer</c>.</summary>
    [Id(1)] public required string Prompt { get; init; }

    /// <summary><see cref="LlmCallStates"/>.</summary>
    [Id(2)] public required string Status { get; init; }
    [Id(3)] public DateTimeOffset StartedAt { get; init; }
    [Id(4)] public long DurationMs { get; init; }

    /// <summary>The provider's HTTP status (200 once it answered); null when no response arrived.</summary>
    [Id(5)] public int? StatusCode { get; init; }
    [Id(6)] public string? Error { get; init; }

    /// <summary>The tokens counted for the call (the prompt estimate while it runs).</summary>
    [Id(7)] public Llm.TokenUsage Tokens { get; init; } = Llm.TokenUsage.None;
    [Id(8)] public decimal CostUsd { get; init; }

    /// <summary>Deep mode: the follow-up round the call belongs to.</summary>
    [Id(9)] public int Round { get; init; }
}

/// <summary>Attempts of one query.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.QueryDebug")]
public sealed record QueryDebug
{
    [Id(0)] public int Index { get; init; }
    [Id(1)] public required string Query { get; init; }
    [Id(2)] public required string Status { get; init; }
    [Id(3)] public IReadOnlyList<AttemptRecord> Attempts { get; init; } = [];
    [Id(4)] public string? Error { get; init; }

    /// <summary>The provider the query ran on.</summary>
    [Id(10)] public string? Provider { get; init; }
}

/// <summary>One provider call (or cache lookup) for one page.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.AttemptRecord")]
public sealed record AttemptRecord
{
    [Id(0)] public int Page { get; init; }
    [Id(1)] public int Attempt { get; init; }
    [Id(2)] public DateTimeOffset StartedAt { get; init; }
    [Id(3)] public long DurationMs { get; init; }

    /// <summary>HTTP status (200 for success of non-HTTP providers); null when no response arrived.</summary>
    [Id(4)] public int? StatusCode { get; init; }
    [Id(5)] public string? Error { get; init; }

    /// <summary>Time spent waiting for rate-limit permits before this attempt.</summary>
    [Id(6)] public long LimiterWaitMs { get; init; }

    /// <summary>Backoff before the next attempt, when one followed.</summary>
    [Id(7)] public long? RetryDelayMs { get; init; }
    [Id(8)] public bool CacheHit { get; init; }

    /// <summary>Bytes of the response body read (of the error body for a failed call); null when none arrived or the provider reads no HTTP body (local files, code).</summary>
    [Id(10)] public long? Bytes { get; init; }
}
