using Orleans.Search.Net;

namespace Orleans.Search.Reading;

/// <summary>
/// One read in progress, as both readers keep it: the URL, when it started, what is known of the response so far, and
/// the <see cref="PageRead"/> it ends as (read, skipped or failed, with the reason in a word and in words).
/// </summary>
internal sealed class ReadAttempt(string url, TimeProvider time)
{
    private readonly long _started = time.GetTimestamp();

    public string Url => url;

    /// <summary>Set by <see cref="CheckAsync"/> once the URL passed.</summary>
    public Uri Uri { get; private set; } = null!;

    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();

    public long Ms => (long)time.GetElapsedTime(_started).TotalMilliseconds;

    /// <summary>Time spent being polite before the request (robots.txt, the host's slot, its crawl delay).</summary>
    public long WaitMs { get; private set; }

    public int? HttpStatus { get; set; }

    public string? ContentType { get; set; }

    public long Bytes { get; set; }

    public Uri? FinalUrl { get; set; }

    /// <summary>What every reader checks before it sends anything: an absolute URL the outbound guard lets through. Null when it may go on.</summary>
    public async Task<PageRead?> CheckAsync(OutboundGuard guard, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return Skip(PageReadReasons.InvalidUrl, "not an absolute URL");
        }
        if (await guard.CheckAsync(url, cancellationToken) is { } refusal)
        {
            return Skip(PageReadReasons.Guard, "refused: " + refusal);
        }
        Uri = uri;
        return null;
    }

    /// <summary>The politeness waits are over: what was spent so far counts as waiting.</summary>
    public void WaitEnded() => WaitMs = Ms;

    public PageRead Skip(string reason, string words) => Record(PageReadStatuses.Skipped, reason) with { Skipped = words };

    public PageRead Fail(string reason, string error) => Record(PageReadStatuses.Failed, reason) with { Error = error };

    public PageRead Read(string text, string? title, bool truncated) => Record(PageReadStatuses.Read, truncated ? PageReadReasons.Size : null) with
    {
        Text = text,
        TextLength = text.Length,
        Title = string.IsNullOrWhiteSpace(title) ? null : title,
        Truncated = truncated,
    };

    private PageRead Record(string status, string? reason) => new()
    {
        Url = url,
        FinalUrl = FinalUrl?.AbsoluteUri,
        Status = status,
        Reason = reason,
        HttpStatus = HttpStatus,
        ContentType = ContentType,
        Bytes = Bytes,
        Ms = Ms,
        WaitMs = WaitMs,
        StartedAt = StartedAt,
    };
}
