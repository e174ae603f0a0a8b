namespace Orleans.Search.Jobs;

/// <summary>What happened inside a job, for diagnosing it.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobDebug")]
public sealed record JobDebug
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required string Status { get; init; }
    [Id(2)] public IReadOnlyList<QueryDebug> Queries { get; init; } = [];

    /// <summary>
    /// Every URL the read stage took on, in the order they ended (text left out): status, bytes, content type, timings,
    /// and for a skip or a failure its <see cref="Reading.PageRead.Reason"/> (robots.txt, the outbound guard, content type,
    /// size, timeout, …) and its words.
    /// </summary>
    [Id(10)] public IReadOnlyList<Reading.PageRead> Reads { get; init; } = [];
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
