namespace Orleans.Search.Reading;

/// <summary>Outcomes of reading one URL, as they appear on the wire.</summary>
public static class PageReadStatuses
{
    public const string Read = "read";
    public const string Skipped = "skipped";
    public const string Failed = "failed";
}

/// <summary>Why a read was skipped, failed or cut short, as one word a program can test (<see cref="PageRead.Reason"/>).</summary>
public static class PageReadReasons
{
    /// <summary>The URL is not an absolute URL.</summary>
    public const string InvalidUrl = "invalid-url";

    /// <summary>The outbound guard refused it (scheme, address, or a redirect to a refused address); nothing was sent there.</summary>
    public const string Guard = "guard";

    /// <summary>robots.txt disallows it (or could not be read, which disallows everything).</summary>
    public const string Robots = "robots";

    /// <summary>The response's content type is not one that is read.</summary>
    public const string ContentType = "content-type";

    /// <summary>The body was longer than the byte limit: cut there (a direct read) or refused (Jina Reader).</summary>
    public const string Size = "size";

    public const string Timeout = "timeout";

    /// <summary>A non-2xx answer (or too many redirects).</summary>
    public const string Http = "http";

    /// <summary>No answer: the connection failed or broke.</summary>
    public const string Network = "network";

    /// <summary>An answer that could not be understood (Jina Reader's envelope).</summary>
    public const string Invalid = "invalid";

    /// <summary>The silo has no page reader; the snippet stands in.</summary>
    public const string NoReader = "no-reader";

    /// <summary>The reader failed unexpectedly.</summary>
    public const string Error = "error";
}

/// <summary>
/// What reading one URL gave: its text (main content, markdown or plain) and the facts a caller sees in
/// <c>reads[]</c>. A failed or skipped read is a value, never an exception: a read is never fatal to a job.
/// </summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.PageRead")]
public sealed record PageRead
{
    [Id(0)] public required string Url { get; init; }

    /// <summary>The URL the text came from after redirects.</summary>
    [Id(1)] public string? FinalUrl { get; init; }

    /// <summary>One of <see cref="PageReadStatuses"/>.</summary>
    [Id(2)] public required string Status { get; init; }

    /// <summary>The HTTP status of the last response, when one arrived.</summary>
    [Id(3)] public int? HttpStatus { get; init; }
    [Id(4)] public long Bytes { get; init; }
    [Id(5)] public string? ContentType { get; init; }

    /// <summary>The extracted text; null unless <see cref="Status"/> is <see cref="PageReadStatuses.Read"/>.</summary>
    [Id(6)] public string? Text { get; init; }
    [Id(7)] public int TextLength { get; init; }
    [Id(8)] public string? Title { get; init; }
    [Id(9)] public long Ms { get; init; }
    [Id(10)] public string? Error { get; init; }

    /// <summary>Why the URL was not fetched (robots.txt, refused by the outbound guard, content type, …).</summary>
    [Id(11)] public string? Skipped { get; init; }

    /// <summary>True when the text came from the read cache rather than a fetch.</summary>
    [Id(12)] public bool Cached { get; init; }

    /// <summary>True when the body was longer than the reader's byte limit and was cut there (the text is of the first part).</summary>
    [Id(13)] public bool Truncated { get; init; }

    /// <summary>For a skip, a failure or a cut: one of <see cref="PageReadReasons"/>; <see cref="Skipped"/> or <see cref="Error"/> says it in words.</summary>
    [Id(14)] public string? Reason { get; init; }

    /// <summary>Of <see cref="Ms"/>, the time spent being polite before the request: robots.txt, the host's slot and its crawl delay.</summary>
    [Id(15)] public long WaitMs { get; init; }

    [Id(16)] public DateTimeOffset? StartedAt { get; init; }
}
