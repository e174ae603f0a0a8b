using System.Globalization;

namespace Orleans.Search.Providers;

/// <summary>Reads how long a provider asks us to wait from its response headers.</summary>
public static class ProviderHeaders
{
    /// <summary><c>Retry-After</c> (seconds or HTTP-date), else <c>RateLimit-Reset</c> / <c>X-RateLimit-Reset</c> (seconds).</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeSpan maxPause, TimeProvider? time = null)
    {
        var retryAfter = response.Headers.RetryAfter;
        if (retryAfter?.Delta is { } delta)
        {
            return delta;
        }
        if (retryAfter?.Date is { } date)
        {
            var wait = date - (time ?? TimeProvider.System).GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        foreach (var header in new[] { "RateLimit-Reset", "X-RateLimit-Reset" })
        {
            if (response.Headers.TryGetValues(header, out var values)
                && double.TryParse(values.First().Split(',')[0].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                && seconds >= 0)
            {
                return TimeSpan.FromSeconds(seconds);
            }
        }
        return null;
    }
}
