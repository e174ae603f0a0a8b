namespace Orleans.Search.Fakes;

/// <summary>One search as <see cref="FakeSearxngOptions.Faults"/> sees it; <see cref="Attempt"/> counts searches for this (q, pageno), from 1.</summary>
public sealed record FakeSearxngSearch(string Query, int Page, int Attempt);

/// <summary>What the fake does instead of answering a search with results: the failures a real provider (or the network to it) produces.</summary>
public sealed record FakeSearxngFault
{
    private FakeSearxngFault(FakeSearxngFaultKind kind, int statusCode = 0, int? retryAfterSeconds = null)
    {
        Kind = kind;
        StatusCode = statusCode;
        RetryAfterSeconds = retryAfterSeconds;
    }

    public FakeSearxngFaultKind Kind { get; }

    /// <summary>For <see cref="FakeSearxngFaultKind.Status"/>: the status code answered.</summary>
    public int StatusCode { get; }

    /// <summary>For <see cref="FakeSearxngFaultKind.Status"/>: a <c>Retry-After</c> header in whole seconds, if any.</summary>
    public int? RetryAfterSeconds { get; }

    /// <summary>Answers <paramref name="statusCode"/> with a short JSON error body (and <c>Retry-After</c> when given).</summary>
    public static FakeSearxngFault Status(int statusCode, int? retryAfterSeconds = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        return new(FakeSearxngFaultKind.Status, statusCode, retryAfterSeconds);
    }

    /// <summary>Resets the connection without any response.</summary>
    public static FakeSearxngFault DropConnection { get; } = new(FakeSearxngFaultKind.DropConnection);

    /// <summary>Answers 200 with headers and the first part of the body, then sends nothing more until the client gives up.</summary>
    public static FakeSearxngFault StallMidBody { get; } = new(FakeSearxngFaultKind.StallMidBody);

    /// <summary>Never answers: the request stays in flight until the client gives up (it then counts as aborted).</summary>
    public static FakeSearxngFault Hang { get; } = new(FakeSearxngFaultKind.Hang);

    /// <summary>Answers 200 <c>application/json</c> with a body that is not valid JSON (a truncated results list).</summary>
    public static FakeSearxngFault MalformedJson { get; } = new(FakeSearxngFaultKind.MalformedJson);
}

public enum FakeSearxngFaultKind
{
    Status,
    DropConnection,
    StallMidBody,
    Hang,
    MalformedJson,
}
