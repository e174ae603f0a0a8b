using System.Diagnostics;
using Orleans.Search.Net;

namespace Orleans.Search.Reading;

/// <summary>
/// Reads a page itself: through the outbound guard, polite (robots.txt, per-host concurrency, crawl delay), within
/// <see cref="ReadOptions"/>'s limits of time, size and content type; decodes its charset and extracts its main text.
/// The work runs off the caller's scheduler (a grain's turn is never held by a download or an extraction).
/// </summary>
public sealed partial class DirectPageReader(
    OutboundGuard guard, RobotsCache robots, ReadSlots slots, IOptions<ReadOptions> options, TimeProvider time, ILogger<DirectPageReader> logger)
    : IPageReader
{
    private static readonly HashSet<string> ReadableTypes = new(StringComparer.OrdinalIgnoreCase) { "text/html", "text/plain", "application/xhtml+xml" };

    Task<PageRead> IPageReader.ReadAsync(string url, CancellationToken cancellationToken) =>
        Task.Run(() => ReadCoreAsync(url, cancellationToken), cancellationToken);

    private async Task<PageRead> ReadCoreAsync(string url, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var started = time.GetTimestamp();
        long Ms() => (long)time.GetElapsedTime(started).TotalMilliseconds;
        PageRead Skip(string reason) => new() { Url = url, Status = PageReadStatuses.Skipped, Skipped = reason, Ms = Ms() };

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return Skip("not an absolute URL");
        }
        if (await guard.CheckAsync(url, cancellationToken) is { } refusal)
        {
            LogSkipped(logger, url, refusal);
            return Skip("refused: " + refusal);
        }
        TimeSpan? crawlDelay = null;
        if (o.RespectRobotsTxt)
        {
            var rules = await robots.GetAsync(uri, cancellationToken);
            if (!rules.IsAllowed(uri))
            {
                var reason = rules.DisallowAll ? "robots.txt unavailable (nothing may be read)" : "disallowed by robots.txt";
                LogSkipped(logger, url, reason);
                return Skip(reason);
            }
            if (rules.CrawlDelay is { } delay)
            {
                crawlDelay = delay < TimeSpan.FromSeconds(o.MaxCrawlDelaySeconds) ? delay : TimeSpan.FromSeconds(o.MaxCrawlDelaySeconds);
            }
        }

        using var lease = await slots.AcquireAsync(uri.GetLeftPart(UriPartial.Authority), crawlDelay, cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        int? status = null;
        string? contentType = null;
        long bytes = 0;
        Uri? finalUrl = null;
        try
        {
            using var response = await guard.SendAsync(uri, u => Request(u, o.UserAgent), OutboundGuard.MaxRedirects, timeout.Token);
            finalUrl = response.FinalUrl;
            status = (int)response.Response.StatusCode;
            var headers = response.Response.Content.Headers;
            contentType = headers.ContentType?.MediaType?.ToLowerInvariant();
            if (status is >= 300 and < 400)
            {
                return Failed($"more than {OutboundGuard.MaxRedirects} redirects");
            }
            if (status is < 200 or >= 300)
            {
                return Failed($"HTTP {status}");
            }
            if (contentType is null || !ReadableTypes.Contains(contentType))
            {
                var reason = $"content type {contentType ?? "missing"} is not read";
                LogSkipped(logger, url, reason);
                return Skip(reason) with { HttpStatus = status, ContentType = contentType, FinalUrl = finalUrl.AbsoluteUri };
            }
            var (body, truncated) = await BoundedBody.ReadAsync(response.Response.Content, o.MaxBytes, timeout.Token);
            bytes = body.Length;
            var html = contentType != "text/plain";
            var decoded = PageDecoding.Decode(body, headers.ContentType?.CharSet, html, out _);
            var extraction = Stopwatch.StartNew();
            var (title, text) = html ? PageExtraction.FromHtml(decoded, finalUrl, o.Format == "markdown") : (null, decoded.Trim());
            LogRead(logger, url, status.Value, bytes, text.Length, extraction.ElapsedMilliseconds);
            return new PageRead
            {
                Url = url,
                FinalUrl = finalUrl.AbsoluteUri,
                Status = PageReadStatuses.Read,
                HttpStatus = status,
                Bytes = bytes,
                ContentType = contentType,
                Text = text,
                TextLength = text.Length,
                Title = title,
                Truncated = truncated,
                Ms = Ms(),
            };
        }
        catch (OutboundRefusedException refused)
        {
            // A redirect to a refused address: nothing was sent there.
            LogSkipped(logger, url, refused.Reason);
            return Skip("refused: " + refused.Reason) with { FinalUrl = refused.Url.AbsoluteUri };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed($"timed out after {o.TimeoutSeconds:0.###} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return Failed(e.Message);
        }

        PageRead Failed(string error)
        {
            LogFailed(logger, url, error);
            return new PageRead
            {
                Url = url,
                FinalUrl = finalUrl?.AbsoluteUri,
                Status = PageReadStatuses.Failed,
                HttpStatus = status,
                ContentType = contentType,
                Bytes = bytes,
                Error = error,
                Ms = Ms(),
            };
        }
    }

    private static HttpRequestMessage Request(Uri url, string userAgent)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        request.Headers.TryAddWithoutValidation("Accept", "text/html, application/xhtml+xml, text/plain;q=0.9, */*;q=0.1");
        return request;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Read {Url}: HTTP {Status}, {Bytes} bytes, {TextLength} characters of text, extracted in {ExtractionMs} ms")]
    private static partial void LogRead(ILogger logger, string url, int status, long bytes, int textLength, long extractionMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Skipped {Url}: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string url, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not read {Url}: {Error}")]
    private static partial void LogFailed(ILogger logger, string url, string error);
}
