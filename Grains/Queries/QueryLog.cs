namespace Orleans.Search.Queries;

/// <summary>The query grain's log messages (source-generated).</summary>
internal static partial class QueryLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "Query {Key} stopped unexpectedly; it resumes when its job resumes")]
    public static partial void StoppedUnexpectedly(this ILogger logger, Exception exception, string key);

    /// <summary>A page given up on: <paramref name="exception"/> is null for the expected provider failures that <paramref name="error"/> describes.</summary>
    [LoggerMessage(Level = LogLevel.Warning, Message = "Query {Key} page {Page} failed after {Attempts} attempts: {Error}")]
    public static partial void PageFailed(this ILogger logger, Exception? exception, string key, int page, int attempts, string? error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Query {Key}: the result cache did not answer; fetching uncached")]
    public static partial void CacheUnavailable(this ILogger logger, Exception exception, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Query {Key}: report to job failed (attempt {Attempt}); retrying")]
    public static partial void ReportRetrying(this ILogger logger, Exception exception, string key, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Query {Key}: could not report to its job")]
    public static partial void ReportFailed(this ILogger logger, Exception exception, string key);
}
