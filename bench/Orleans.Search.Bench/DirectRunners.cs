using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Orleans.Search.Fakes;

namespace Orleans.Search.Bench;

/// <summary>
/// The systems Orleans.Search replaces, calling the fake directly: (a) a loop of awaits, (b) Task.WhenAll with a
/// SemaphoreSlim(C) and an in-memory token bucket. Both parse the JSON like the service's adapter does, and both
/// retry a 429 after its Retry-After (and count it), so a run always completes.
/// </summary>
public sealed class DirectRunners(HttpClient http, FakeSearxng fake)
{
    /// <summary>(a): one call after the other.</summary>
    public async Task<TimedRun> SequentialAsync(IReadOnlyList<Call> calls, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        foreach (var call in calls)
        {
            await CallAsync(call, cancellationToken);
        }
        return new TimedRun(started, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// (b): all calls at once behind a semaphore of C and a token bucket of rate R. The bucket holds back the same
    /// jitter headroom as the service (<paramref name="burstInUse"/>), so both police the quota alike.
    /// </summary>
    public async Task<TimedRun> WhenAllAsync(IReadOnlyList<Call> calls, int concurrency, double ratePerSecond, int burstInUse, CancellationToken cancellationToken)
    {
        using var semaphore = new SemaphoreSlim(concurrency, concurrency);
        using var bucket = ratePerSecond > 0
            ? new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(1, burstInUse),
                TokensPerPeriod = 1,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1 / ratePerSecond),
                QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = true,
            })
            : null;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(calls.Select(async call =>
        {
            await semaphore.WaitAsync(cancellationToken);
            try
            {
                await CallAsync(call, cancellationToken, bucket);
            }
            finally
            {
                semaphore.Release();
            }
        }));
        return new TimedRun(started, Stopwatch.GetElapsedTime(started));
    }

    private async Task CallAsync(Call call, CancellationToken cancellationToken, RateLimiter? bucket = null)
    {
        while (true)
        {
            RateLimitLease? lease = null;
            if (bucket is not null)
            {
                lease = await bucket.AcquireAsync(1, cancellationToken);
                if (!lease.IsAcquired)
                {
                    throw new InvalidOperationException("The token bucket refused a permit.");
                }
            }
            using (lease)
            {
                using var response = await http.GetAsync(fake.SearchUri(call.Query, call.Page), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
                    await Task.Delay(wait, cancellationToken);
                    continue;
                }
                response.EnsureSuccessStatusCode();
                var page = await response.Content.ReadFromJsonAsync<SearxngPage>(cancellationToken);
                if (page?.Results is null)
                {
                    throw new InvalidOperationException($"No results for {call}.");
                }
                return;
            }
        }
    }

    private sealed record SearxngPage([property: JsonPropertyName("results")] List<SearxngHit>? Results);

    private sealed record SearxngHit(
        [property: JsonPropertyName("url")] string? Url,
        [property: JsonPropertyName("title")] string? Title,
        [property: JsonPropertyName("content")] string? Content);
}
