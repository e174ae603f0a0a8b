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
        Task.Run(() => ReadCoreAsync(new ReadAttempt(url, time), cancellationToken), cancellationToken);

    private async Task<PageRead> ReadCoreAsync(ReadAttempt read, CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (await read.CheckAsync(guard, cancellationToken) is { } refused)
        {
            return refused;
        }
        read.WaitEnded();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        try
        {
            var baseUrl = o.Jina.BaseUrl.EndsWith('/') ? o.Jina.BaseUrl : o.Jina.BaseUrl + "/";
            using var request = new HttpRequestMessage(HttpMethod.Get, baseUrl + read.Uri.AbsoluteUri);
            request.Headers.TryAddWithoutValidation("Accept", "application/json");
            request.Headers.TryAddWithoutValidation("X-Respond-With", o.Format == "markdown" ? "markdown" : "text");
            request.Headers.TryAddWithoutValidation("X-Timeout", ((int)Math.Ceiling(o.TimeoutSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(o.Jina.ApiKey))
            {
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + o.Jina.ApiKey);
            }
            using var response = await clients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            read.HttpStatus = (int)response.StatusCode;
            var (body, truncated) = await BoundedBody.ReadAsync(response.Content, o.MaxBytes, timeout.Token);
            read.Bytes = body.Length;
            if (!response.IsSuccessStatusCode)
            {
                return Failed(PageReadReasons.Http, $"Jina Reader: HTTP {read.HttpStatus}{ErrorMessage(body)}");
            }
            if (truncated)
            {
                return Failed(PageReadReasons.Size, $"Jina Reader's answer is over {o.MaxBytes} bytes");
            }
            using var json = JsonDocument.Parse(body);
            if (!json.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            {
                return Failed(PageReadReasons.Invalid, "Jina Reader's answer has no data");
            }
            var text = data.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()!.Trim() : "";
            var title = data.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            var final = data.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : read.Uri.AbsoluteUri;
            read.ContentType = o.Format == "markdown" ? "text/markdown" : "text/plain";
            return read.Read(text, title, truncated: false) with { FinalUrl = final };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed(PageReadReasons.Timeout, $"timed out after {o.TimeoutSeconds:0.###} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return Failed(PageReadReasons.Network, "Jina Reader: " + e.Message);
        }
        catch (JsonException e)
        {
            return Failed(PageReadReasons.Invalid, "Jina Reader: " + e.Message);
        }

        PageRead Failed(string reason, string error)
        {
            LogFailed(logger, read.Url, error);
            return read.Fail(reason, error);
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
