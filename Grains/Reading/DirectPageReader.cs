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
        Task.Run(() => ReadCoreAsync(new ReadAttempt(url, time), cancellationToken), cancellationToken);

    private async Task<PageRead> ReadCoreAsync(ReadAttempt read, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var url = read.Url;
        if (await read.CheckAsync(guard, cancellationToken) is { } refused)
        {
            LogSkipped(logger, url, refused.Skipped!);
            return refused;
        }
        var uri = read.Uri;
        TimeSpan? crawlDelay = null;
        if (o.RespectRobotsTxt)
        {
            var rules = await robots.GetAsync(uri, cancellationToken);
            if (!rules.IsAllowed(uri))
            {
                return Skip(PageReadReasons.Robots, rules.DisallowAll ? "robots.txt unavailable (nothing may be read)" : "disallowed by robots.txt");
            }
            if (rules.CrawlDelay is { } delay)
            {
                crawlDelay = delay < TimeSpan.FromSeconds(o.MaxCrawlDelaySeconds) ? delay : TimeSpan.FromSeconds(o.MaxCrawlDelaySeconds);
            }
        }

        using var lease = await slots.AcquireAsync(uri.GetLeftPart(UriPartial.Authority), crawlDelay, cancellationToken);
        read.WaitEnded();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        try
        {
            using var response = await guard.SendAsync(uri, u => Request(u, o.UserAgent), OutboundGuard.MaxRedirects, timeout.Token);
            read.FinalUrl = response.FinalUrl;
            var status = (int)response.Response.StatusCode;
            read.HttpStatus = status;
            var headers = response.Response.Content.Headers;
            var contentType = headers.ContentType?.MediaType?.ToLowerInvariant();
            read.ContentType = contentType;
            if (status is >= 300 and < 400)
            {
                return Failed(PageReadReasons.Http, $"more than {OutboundGuard.MaxRedirects} redirects");
            }
            if (status is < 200 or >= 300)
            {
                return Failed(PageReadReasons.Http, $"HTTP {status}");
            }
            if (contentType is null || !ReadableTypes.Contains(contentType))
            {
                return Skip(PageReadReasons.ContentType, $"content type {contentType ?? "missing"} is not read");
            }
            var (body, truncated) = await BoundedBody.ReadAsync(response.Response.Content, o.MaxBytes, timeout.Token);
            read.Bytes = body.Length;
            var html = contentType != "text/plain";
            var decoded = PageDecoding.Decode(body, headers.ContentType?.CharSet, html, out _);
            var extraction = Stopwatch.StartNew();
            var (title, text) = html ? PageExtraction.FromHtml(decoded, response.FinalUrl, o.Format == "markdown") : (null, decoded.Trim());
            LogRead(logger, url, status, read.Bytes, text.Length, extraction.ElapsedMilliseconds);
            return read.Read(text, title, truncated);
        }
        catch (OutboundRefusedException refusal)
        {
            // A redirect to a refused address: nothing was sent there.
            read.FinalUrl = refusal.Url;
            return Skip(PageReadReasons.Guard, "refused: " + refusal.Reason);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed(PageReadReasons.Timeout, $"timed out after {o.TimeoutSeconds:0.###} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return Failed(PageReadReasons.Network, e.Message);
        }

        PageRead Skip(string reason, string words)
        {
            LogSkipped(logger, url, words);
            return read.Skip(reason, words);
        }

        PageRead Failed(string reason, string error)
        {
            LogFailed(logger, url, error);
            return read.Fail(reason, error);
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
