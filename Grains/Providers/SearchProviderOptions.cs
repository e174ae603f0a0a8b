namespace Orleans.Search.Providers;

/// <summary>Settings of one provider, bound from <c>Search:Providers:{name}</c>.</summary>
public sealed class SearchProviderOptions
{
    /// <summary><c>local</c>, <c>searxng</c>, <c>jina</c>, <c>brave</c>, <c>tavily</c>, <c>perplexity</c>, <c>code</c>.</summary>
    public string Kind { get; set; } = "";

    public string? BaseUrl { get; set; }

    public string? ApiKey { get; set; }

    /// <summary>For <c>local</c>: the folder of .txt/.md/.html files; for <c>code</c>: the folder searched (relative paths resolve against the app's base directory).</summary>
    public string? Path { get; set; }

    /// <summary>For <c>local</c>: files bigger than this are indexed only up to this many bytes; <c>code</c> skips them.</summary>
    public long MaxFileBytes { get; set; } = 1024 * 1024;

    /// <summary>For <c>local</c>: the most files indexed (the first ones in path order); the rest are skipped.</summary>
    public int MaxFiles { get; set; } = 20_000;

    /// <summary>For <c>code</c>: lines shown before and after each matching line.</summary>
    public int ContextLines { get; set; } = 2;

    /// <summary>For <c>code</c>: the longest one regex match may run before the search fails.</summary>
    public int RegexTimeoutMs { get; set; } = 1000;

    /// <summary>For <c>perplexity</c>: the Sonar model.</summary>
    public string? Model { get; set; }

    public int PageSize { get; set; } = 10;

    public double PermitsPerMinute { get; set; } = 600;

    public int Burst { get; set; } = 10;

    public int MaxConcurrency { get; set; } = 10;

    /// <summary>How much the spacing of calls may shrink between our limiter and the provider; paid for from the burst.</summary>
    public double JitterToleranceMs { get; set; } = 200;

    public double TimeoutSeconds { get; set; } = 20;

    /// <summary>Attempts per page, the first included.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Base of the exponential backoff between attempts.</summary>
    public int RetryBaseDelayMs { get; set; } = 250;

    /// <summary>Circuit breaker: share of failed calls (5xx, timeouts, no response) that opens it…</summary>
    public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>…once at least this many calls were seen in the sampling window…</summary>
    public int BreakerMinimumThroughput { get; set; } = 10;

    public double BreakerSamplingSeconds { get; set; } = 30;

    /// <summary>…and for how long it stays open before a trial call.</summary>
    public double BreakerBreakSeconds { get; set; } = 15;

    // The keys carry their unit (configuration stays readable); code reads durations.
    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);

    public TimeSpan RetryBaseDelay => TimeSpan.FromMilliseconds(RetryBaseDelayMs);

    public TimeSpan JitterTolerance => TimeSpan.FromMilliseconds(JitterToleranceMs);

    public TimeSpan BreakerSampling => TimeSpan.FromSeconds(BreakerSamplingSeconds);

    public TimeSpan BreakerBreak => TimeSpan.FromSeconds(BreakerBreakSeconds);
}
