using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Orleans.Search.Net;

namespace Orleans.Search.Reading;

/// <summary>
/// robots.txt per host (scheme, name and port), fetched once through the outbound guard and kept for a day (a host
/// whose robots.txt could not be fetched is retried after ten minutes). Its own limits: 512 KiB parsed (the rest cut),
/// 10 s, 5 redirects. 4xx (but 429) means no rules; 429, 5xx or no answer means nothing may be read.
/// </summary>
public sealed partial class RobotsCache(OutboundGuard guard, IOptions<ReadOptions> options, TimeProvider time, ILogger<RobotsCache> logger)
{
    public const int MaxBytes = 512 * 1024;
    public static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);
    public static readonly TimeSpan UnavailableLifetime = TimeSpan.FromMinutes(10);
    private const int PruneAbove = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The rules that apply to <paramref name="url"/>'s host.</summary>
    public async Task<RobotsTxt> GetAsync(Uri url, CancellationToken cancellationToken)
    {
        var key = url.GetLeftPart(UriPartial.Authority);
        while (true)
        {
            // GetOrAdd may run its factory on several threads at once and keep one result; the fetch itself starts only
            // through the kept entry's Lazy, so a host's readers that arrive together share a single request.
            var entry = _entries.GetOrAdd(key, k => new Entry(new Lazy<Task<(RobotsTxt, DateTimeOffset)>>(
                () => FetchAsync(new Uri(new Uri(k), "/robots.txt")))));
            var fetch = entry.Fetch.Value;
            if (fetch.IsCompleted && fetch.Result.ExpiresAt <= time.GetUtcNow())
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
                continue;
            }
            // One fetch per host, shared: a caller that gives up does not cancel it for the others.
            var (rules, _) = await fetch.WaitAsync(cancellationToken);
            Prune();
            return rules;
        }
    }

    private void Prune()
    {
        if (_entries.Count <= PruneAbove)
        {
            return;
        }
        var now = time.GetUtcNow();
        foreach (var (key, entry) in _entries)
        {
            if (entry.Fetch.IsValueCreated && entry.Fetch.Value.IsCompleted && entry.Fetch.Value.Result.ExpiresAt <= now)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            }
        }
    }

    private async Task<(RobotsTxt Rules, DateTimeOffset ExpiresAt)> FetchAsync(Uri robotsUrl)
    {
        await Task.Yield();
        using var timeout = new CancellationTokenSource(FetchTimeout, time);
        var userAgent = options.Value.UserAgent;
        try
        {
            using var response = await guard.SendAsync(robotsUrl, u =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, u);
                request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
                request.Headers.TryAddWithoutValidation("Accept", "text/plain, */*;q=0.5");
                return request;
            }, OutboundGuard.MaxRedirects, timeout.Token);
            var status = (int)response.Response.StatusCode;
            LogFetched(logger, robotsUrl.GetLeftPart(UriPartial.Authority), status);
            if (status is >= 200 and < 300)
            {
                var (bytes, _) = await BoundedBody.ReadAsync(response.Response.Content, MaxBytes, timeout.Token);
                var text = Encoding.UTF8.GetString(bytes);
                return (RobotsTxt.Parse(text, options.Value.ProductToken), time.GetUtcNow() + Lifetime);
            }
            if (status is >= 400 and < 500 && status != (int)HttpStatusCode.TooManyRequests)
            {
                return (RobotsTxt.AllowAll, time.GetUtcNow() + Lifetime);
            }
            if (status is >= 300 and < 400)
            {
                // More than five redirects: treated as unavailable, which RFC 9309 reads as "no rules".
                return (RobotsTxt.AllowAll, time.GetUtcNow() + Lifetime);
            }
            return (RobotsTxt.DisallowEverything, time.GetUtcNow() + UnavailableLifetime);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            LogUnreachable(logger, robotsUrl.GetLeftPart(UriPartial.Authority), e.Message);
            return (RobotsTxt.DisallowEverything, time.GetUtcNow() + UnavailableLifetime);
        }
    }

    private sealed record Entry(Lazy<Task<(RobotsTxt Rules, DateTimeOffset ExpiresAt)>> Fetch);

    [LoggerMessage(Level = LogLevel.Debug, Message = "robots.txt of {Site}: HTTP {Status}")]
    private static partial void LogFetched(ILogger logger, string site, int status);

    [LoggerMessage(Level = LogLevel.Information, Message = "robots.txt of {Site} unreachable ({Error}): nothing there is read for a while")]
    private static partial void LogUnreachable(ILogger logger, string site, string error);
}
