using System.Net;

namespace Orleans.Search.Client;

/// <summary>
/// The API answered an error: an RFC 9457 problem (its <see cref="Title"/>, <see cref="Detail"/> and field
/// <see cref="Errors"/>), or a bare status when the body was not one. A 429 or 503 carries <see cref="RetryAfter"/>.
/// </summary>
public sealed class SearchApiException : Exception
{
    public SearchApiException(HttpStatusCode status, string? title, string? detail, TimeSpan? retryAfter,
        IReadOnlyDictionary<string, string[]>? errors = null, string? body = null)
        : base(Describe(status, title, detail))
    {
        Status = status;
        Title = title;
        Detail = detail;
        RetryAfter = retryAfter;
        Errors = errors ?? new Dictionary<string, string[]>();
        Body = body;
    }

    /// <summary>The HTTP status code.</summary>
    public HttpStatusCode Status { get; }

    /// <summary>The problem's <c>title</c>.</summary>
    public string? Title { get; }

    /// <summary>The problem's <c>detail</c>: what was wrong, in words.</summary>
    public string? Detail { get; }

    /// <summary>The <c>Retry-After</c> header, when the answer had one.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>A validation problem's <c>errors</c>: field name to messages.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>The response body as it came (a problem's JSON), for logging or printing.</summary>
    public string? Body { get; }

    private static string Describe(HttpStatusCode status, string? title, string? detail) =>
        $"{(int)status} {title ?? status.ToString()}{(string.IsNullOrWhiteSpace(detail) ? "" : ": " + detail)}";
}
