using System.Text.Json;
using Orleans.Search.Net;

namespace Orleans.Search.Reading;

/// <summary>
/// Reads a page through Jina Reader (<c>GET {BaseUrl}{url}</c>, JSON envelope <c>{code, status, data: {title, url,
/// content}}</c>). The URL still passes the outbound guard's check first: a self-hosted Reader sits in our network.
/// </summary>
public sealed partial class JinaPageReader(
    IHttpClientFactory clients, OutboundGuard guard, IOptions<ReadOptions> options, TimeProvider time, ILogger<JinaPageReader> logger)
    : IPageReader
{
    public const string HttpClientName = "jina-reader";

    Task<PageRead> IPageReader.ReadAsync(string url, CancellationToken cancellationToken) =>
        Task.Run(() => ReadCoreAsync(url, cancellationToken), cancellationToken);

    private async Task<PageRead> ReadCoreAsync(string url, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var started = time.GetTimestamp();
        long Ms() => (long)time.GetElapsedTime(started).TotalMilliseconds;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return new PageRead { Url = url, Status = PageReadStatuses.Skipped, Skipped = "not an absolute URL", Ms = Ms() };
        }
        if (await guard.CheckAsync(url, cancellationToken) is { } refusal)
        {
            return new PageRead { Url = url, Status = PageReadStatuses.Skipped, Skipped = "refused: " + refusal, Ms = Ms() };
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        int? status = null;
        long bytes = 0;
        try
        {
            var baseUrl = o.Jina.BaseUrl.EndsWith('/') ? o.Jina.BaseUrl : o.Jina.BaseUrl + "/";
            using var request = new HttpRequestMessage(HttpMethod.Get, baseUrl + uri.AbsoluteUri);
            request.Headers.TryAddWithoutValidation("Accept", "application/json");
            request.Headers.TryAddWithoutValidation("X-Respond-With", o.Format == "markdown" ? "markdown" : "text");
            request.Headers.TryAddWithoutValidation("X-Timeout", ((int)Math.Ceiling(o.TimeoutSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(o.Jina.ApiKey))
            {
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + o.Jina.ApiKey);
            }
            using var response = await clients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            status = (int)response.StatusCode;
            var (body, truncated) = await BoundedBody.ReadAsync(response.Content, o.MaxBytes, timeout.Token);
            bytes = body.Length;
            if (!response.IsSuccessStatusCode)
            {
                return Failed($"Jina Reader: HTTP {status}{ErrorMessage(body)}");
            }
            if (truncated)
            {
                return Failed($"Jina Reader's answer is over {o.MaxBytes} bytes");
            }
            using var json = JsonDocument.Parse(body);
            if (!json.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            {
                return Failed("Jina Reader's answer has no data");
            }
            var text = data.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()!.Trim() : "";
            var title = data.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            var final = data.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : uri.AbsoluteUri;
            return new PageRead
            {
                Url = url,
                FinalUrl = final,
                Status = PageReadStatuses.Read,
                HttpStatus = status,
                Bytes = bytes,
                ContentType = o.Format == "markdown" ? "text/markdown" : "text/plain",
                Text = text,
                TextLength = text.Length,
                Title = string.IsNullOrWhiteSpace(title) ? null : title,
                Ms = Ms(),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed($"timed out after {o.TimeoutSeconds:0.###} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
        {
            return Failed("Jina Reader: " + e.Message);
        }

        PageRead Failed(string error)
        {
            LogFailed(logger, url, error);
            return new PageRead { Url = url, Status = PageReadStatuses.Failed, HttpStatus = status, Bytes = bytes, Error = error, Ms = Ms() };
        }
    }

    /// <summary>Jina's error envelope carries <c>readableMessage</c> or <c>message</c>; at most 200 characters are kept.</summary>
    private static string ErrorMessage(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            foreach (var name in new[] { "readableMessage", "message" })
            {
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(name, out var m) && m.ValueKind == JsonValueKind.String)
                {
                    var text = m.GetString()!;
                    return ": " + (text.Length > 200 ? text[..200] : text);
                }
            }
        }
        catch (JsonException)
        {
        }
        return "";
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Jina Reader could not read {Url}: {Error}")]
    private static partial void LogFailed(ILogger logger, string url, string error);
}
