namespace Orleans.Search.RateLimiting;

/// <summary>The limiters' log messages (source-generated), apart from the hot paths that write them.</summary>
internal static partial class LimiterLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Limiter {Key}: provider answered 429; no calls until {Until:O}")]
    public static partial void ProviderThrottled(this ILogger logger, string key, DateTimeOffset until);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Limiter {Key}: lease of {Holder} {Why}; reclaiming it")]
    public static partial void LeaseReclaimed(this ILogger logger, string key, string holder, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "Limiter {Limiter} granted {Holder} after {Failures} failed attempts")]
    public static partial void GrantedAfterFailures(this ILogger logger, string limiter, string holder, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Limiter {Limiter} unreachable for {Holder} (attempt {Attempt}); retrying")]
    public static partial void LimiterUnreachable(this ILogger logger, Exception exception, string limiter, string holder, int attempt);
}
