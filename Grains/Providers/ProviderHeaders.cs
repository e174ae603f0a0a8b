using System.Globalization;

namespace Orleans.Search.Providers;

/// <summary>
/// Reads how long a provider asks us to wait from its response headers. The answer is clamped to
/// <c>Search:MaxPauseSeconds</c>: the pause applies to the provider for the whole cluster, so a provider's typo
/// (or an epoch read as seconds) must not stop it for years.
/// </summary>
public static class ProviderHeaders
{
    /// <summary>
    /// A reset value this large is an instant, not a delay: 10^9 s from now is 31 years away, while 10^9 as an epoch is
    /// 2001. From 10^12 on it is an epoch in milliseconds (10^12 ms is also 2001).
    /// </summary>
    private const double EpochSecondsFrom = 1e9;

    private const double EpochMillisecondsFrom = 1e12;

    private static readonly string[] ResetHeaders = ["RateLimit-Reset", "X-RateLimit-Reset"];

    // RFC 9110 §5.6.7: recipients accept IMF-fixdate, the obsolete RFC 850 form and asctime.
    private static readonly string[] HttpDateFormats =
    [
        "r",
        "dddd, dd-MMM-yy HH:mm:ss 'GMT'",
        "ddd MMM d HH:mm:ss yyyy",
    ];

    /// <summary>
    /// <c>Retry-After</c> (seconds, fractional seconds, or an HTTP-date), else <c>RateLimit-Reset</c> /
    /// <c>X-RateLimit-Reset</c> (the first of a comma list; seconds, or an epoch in seconds or milliseconds).
    /// Between zero and <paramref name="maxPause"/>; null when no header says anything usable.
    /// </summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeSpan maxPause, TimeProvider? time = null)
    {
        var now = (time ?? TimeProvider.System).GetUtcNow();
        var seconds = RetryAfterSeconds(response, now) ?? ResetSeconds(response, now);
        return seconds is { } s ? Clamp(s, maxPause) : null;
    }

    /// <summary><paramref name="wait"/> between zero and <paramref name="maxPause"/>.</summary>
    public static TimeSpan Clamp(TimeSpan wait, TimeSpan maxPause)
    {
        var max = maxPause > TimeSpan.Zero ? maxPause : TimeSpan.Zero;
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > max ? max : wait;
    }

    // Clamped as a double: TimeSpan.FromSeconds overflows long before a header value does.
    private static TimeSpan Clamp(double seconds, TimeSpan maxPause) =>
        TimeSpan.FromSeconds(Math.Clamp(seconds, 0, Math.Max(0, maxPause.TotalSeconds)));

    private static double? RetryAfterSeconds(HttpResponseMessage response, DateTimeOffset now)
    {
        if (FirstValue(response, "Retry-After") is not { } value)
        {
            return null;
        }
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            return double.IsFinite(seconds) ? seconds : null;
        }
        return DateTimeOffset.TryParseExact(value, HttpDateFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AllowInnerWhite | DateTimeStyles.AssumeUniversal, out var date)
            ? (date - now).TotalSeconds
            : null;
    }

    private static double? ResetSeconds(HttpResponseMessage response, DateTimeOffset now)
    {
        foreach (var header in ResetHeaders)
        {
            // Several windows ("1, 1419704", as Brave sends): the first is the shortest.
            if (FirstValue(response, header)?.Split(',')[0].Trim() is { } value
                && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var reset)
                && double.IsFinite(reset) && reset >= 0)
            {
                var nowSeconds = now.ToUnixTimeMilliseconds() / 1000.0;
                return reset >= EpochMillisecondsFrom ? reset / 1000 - nowSeconds
                    : reset >= EpochSecondsFrom ? reset - nowSeconds
                    : reset;
            }
        }
        return null;
    }

    // Not the typed Headers.RetryAfter: it rejects the fractional and oversized values we still want to read.
    private static string? FirstValue(HttpResponseMessage response, string header) =>
        response.Headers.NonValidated.TryGetValues(header, out var values) && values.Count > 0 && values.First() is { } first && first.Trim() is { Length: > 0 } trimmed
            ? trimmed
            : null;
}
