using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Orleans.Search.Fakes;

/// <summary>What a <see cref="FakeSite"/> answers at one path.</summary>
public sealed record FakeSitePage
{
    public int Status { get; init; } = 200;
    public string? ContentType { get; init; } = "text/html; charset=utf-8";
    public byte[] Body { get; init; } = [];

    /// <summary>Waited before the headers are sent (on top of the site's <see cref="FakeSite.Latency"/>).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>A <c>Location</c> header (for redirects).</summary>
    public string? Location { get; init; }

    public static FakeSitePage Html(string html, string charset = "utf-8") =>
        new() { Body = Encoding.UTF8.GetBytes(html), ContentType = $"text/html; charset={charset}" };

    public static FakeSitePage Text(string text, string contentType = "text/plain") =>
        new() { Body = Encoding.UTF8.GetBytes(text), ContentType = contentType };

    public static FakeSitePage Redirect(string location, int status = 302) => new() { Status = status, Location = location, ContentType = null };
}

/// <summary>One request to a <see cref="FakeSite"/>: its path and query, and when it arrived and ended (Stopwatch clock).</summary>
public sealed record FakeSiteArrival(string PathAndQuery, long StartedAt, long EndedAt, string? UserAgent);

/// <summary>
/// A loopback web site on Kestrel (127.0.0.1, its own ephemeral port: sites on distinct ports are distinct hosts to
/// a crawler). It serves the pages it is given (404 elsewhere, robots.txt included), records every request with its
/// timing, and counts requests in flight (highest seen in <see cref="MaxInFlight"/>).
/// </summary>
public sealed class FakeSite : IAsyncDisposable
{
    private LoopbackHost _host = null!;
    private readonly ConcurrentDictionary<string, FakeSitePage> _pages = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<FakeSiteArrival> _arrivals = new();
    private int _inFlight;
    private int _maxInFlight;

    private FakeSite()
    {
    }

    public Uri BaseUrl => _host.BaseUrl;

    /// <summary>Waited before every response.</summary>
    public TimeSpan Latency { get; set; }

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public IReadOnlyList<FakeSiteArrival> Arrivals => [.. _arrivals];

    public int RequestsFor(string pathAndQuery) => _arrivals.Count(a => a.PathAndQuery == pathAndQuery);

    public string Url(string pathAndQuery) => new Uri(BaseUrl, pathAndQuery).AbsoluteUri;

    public FakeSite Serve(string pathAndQuery, FakeSitePage page)
    {
        _pages[pathAndQuery] = page;
        return this;
    }

    public static async Task<FakeSite> StartAsync(CancellationToken cancellationToken = default)
    {
        var site = new FakeSite();
        site._host = await LoopbackHost.StartAsync(site.HandleAsync, cancellationToken: cancellationToken).ConfigureAwait(false);
        return site;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var now = Interlocked.Increment(ref _inFlight);
        int seen;
        while ((seen = Volatile.Read(ref _maxInFlight)) < now && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
        {
        }
        var path = context.Request.Path.Value + context.Request.QueryString.Value;
        try
        {
            var page = _pages.TryGetValue(path, out var p) ? p : new FakeSitePage { Status = 404, ContentType = "text/plain", Body = "not found"u8.ToArray() };
            var wait = Latency + page.Delay;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, context.RequestAborted).ConfigureAwait(false);
            }
            context.Response.StatusCode = page.Status;
            if (page.ContentType is not null)
            {
                context.Response.ContentType = page.ContentType;
            }
            if (page.Location is not null)
            {
                context.Response.Headers.Location = page.Location;
            }
            context.Response.ContentLength = page.Body.Length;
            await context.Response.Body.WriteAsync(page.Body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client went away (a timeout on its side).
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            _arrivals.Enqueue(new FakeSiteArrival(path, started, System.Diagnostics.Stopwatch.GetTimestamp(), context.Request.Headers.UserAgent.ToString()));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync().ConfigureAwait(false);
    }
}
