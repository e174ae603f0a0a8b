namespace Orleans.Search.Jobs;

/// <summary>Event types a job publishes.</summary>
public static class JobEventTypes
{
    public const string Created = "created";
    public const string Started = "started";
    public const string Resumed = "resumed";
    public const string QueryStarted = "query.started";
    public const string PageCompleted = "page.completed";
    public const string PageFailed = "page.failed";
    public const string QueryCompleted = "query.completed";
    public const string QueryFailed = "query.failed";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsTerminal(string type) => type is Completed or Failed or Cancelled;
}

/// <summary>One change of a job, as published on its progress stream and kept in its event tail.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobEvent")]
public sealed record JobEvent
{
    /// <summary>Strictly increasing per job (gaps are possible after a crash, never repeats).</summary>
    [Id(0)] public long Seq { get; init; }
    [Id(1)] public required string JobId { get; init; }
    [Id(2)] public required string Type { get; init; }
    [Id(3)] public double Progress { get; init; }
    [Id(4)] public string? Message { get; init; }
    [Id(5)] public required JobStats Stats { get; init; }
    [Id(6)] public DateTimeOffset Timestamp { get; init; }
    [Id(7)] public required string Status { get; init; }
    [Id(8)] public int? QueryIndex { get; init; }
    [Id(9)] public string? Query { get; init; }
    [Id(10)] public int? Page { get; init; }
    [Id(11)] public int? ResultCount { get; init; }
    [Id(12)] public string? Error { get; init; }
}

/// <summary>Events after a given sequence number, from the job's retained tail.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.JobEventPage")]
public sealed record JobEventPage
{
    [Id(0)] public IReadOnlyList<JobEvent> Events { get; init; } = [];

    /// <summary>The oldest sequence number still retained; older events were dropped from the tail.</summary>
    [Id(1)] public long FirstRetainedSeq { get; init; }

    [Id(2)] public required string Status { get; init; }
}
