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
    public const string StageStarted = "stage.started";
    public const string StageCompleted = "stage.completed";

    /// <summary>Lists the job's queries after expansion (<see cref="JobEvent.Queries"/>).</summary>
    public const string ExpandCompleted = "expand.completed";

    /// <summary>Deep mode: a round's follow-up queries (<see cref="JobEvent.Queries"/>; empty ends the rounds).</summary>
    public const string FollowupCompleted = "followup.completed";

    /// <summary>One URL read (or skipped, or failed): <see cref="JobEvent.Url"/>.</summary>
    public const string ReadCompleted = "read.completed";

    /// <summary>Answer text as it streams: <see cref="JobEvent.Text"/> at <see cref="JobEvent.Offset"/>.</summary>
    public const string AnswerDelta = "answer.delta";

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

    /// <summary>The stage a stage event (or an answer delta) belongs to.</summary>
    [Id(13)] public string? Stage { get; init; }

    /// <summary><c>expand.completed</c>: every query of the job; <c>followup.completed</c>: the round's new queries.</summary>
    [Id(14)] public IReadOnlyList<string>? Queries { get; init; }

    /// <summary><c>answer.delta</c>: the text.</summary>
    [Id(15)] public string? Text { get; init; }

    /// <summary>
    /// <c>answer.delta</c>: where <see cref="Text"/> starts in the answer. An answer re-run after a crash starts at 0 again,
    /// so a client places deltas by offset rather than appending blindly.
    /// </summary>
    [Id(16)] public int? Offset { get; init; }

    /// <summary><c>read.completed</c>: the URL.</summary>
    [Id(17)] public string? Url { get; init; }

    /// <summary>Deep mode: the round (0 before the first follow-up).</summary>
    [Id(18)] public int? Round { get; init; }

    /// <summary>
    /// <c>page.completed</c>: that page's results, in rank order, so a client can show them as they arrive. Carried on the
    /// live stream; the job's stored tail keeps the event without them (the gateway's event stream adds them back to an
    /// event it replays from the tail).
    /// </summary>
    [Id(19)] public IReadOnlyList<SearchResult>? Results { get; init; }
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
