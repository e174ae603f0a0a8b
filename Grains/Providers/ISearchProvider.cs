namespace Orleans.Search.Providers;

/// <summary>
/// One search backend (local files, SearXNG, Jina, Brave, Tavily, Perplexity, a code folder).
/// Adapters translate a query and a 1-based page into the backend's own paging, auth and result shape,
/// and report the facts resilience needs (status code, Retry-After) through <see cref="ProviderException"/>.
/// </summary>
public interface ISearchProvider
{
    /// <summary>The configured provider name (the key under <c>Search:Providers</c>).</summary>
    string Name { get; }

    /// <summary>Runs one page of one query. Throws <see cref="ProviderException"/> on a provider error.</summary>
    Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken);
}

/// <summary>A query for one page; <paramref name="Page"/> is 1-based.</summary>
public sealed record ProviderQuery(string Text, int Page, int PageSize);

/// <summary>
/// One page of hits, ranked best first; <paramref name="Usage"/> for providers that bill LLM tokens (Perplexity);
/// <paramref name="Bytes"/>, the response body's bytes read, for providers that call over HTTP.
/// </summary>
public sealed record ProviderPage(IReadOnlyList<ProviderHit> Hits, int StatusCode = 200, Orleans.Search.Llm.TokenUsage? Usage = null, long? Bytes = null);

/// <summary>One hit as the provider gave it; <paramref name="Path"/> and <paramref name="Line"/> (1-based) for hits in files (<c>code</c>).</summary>
public sealed record ProviderHit(string Url, string Title, string Snippet, string? Path = null, int? Line = null);

/// <summary>A failed provider call, with what retry logic needs to know.</summary>
/// <param name="transient">Overrides what the status code says about retrying (a 200 whose body is too big is not worth a retry).</param>
public sealed class ProviderException(
    string provider,
    string message,
    int? statusCode = null,
    TimeSpan? retryAfter = null,
    Exception? inner = null,
    bool? transient = null) : Exception(message, inner)
{
    public string Provider { get; } = provider;

    /// <summary>HTTP status code, or null when no response arrived (network error, timeout).</summary>
    public int? StatusCode { get; } = statusCode;

    /// <summary>How long the provider asked us to wait (Retry-After or rate-limit reset headers).</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The bytes of the error body read, when a response arrived (for /debug).</summary>
    public long? ResponseBytes { get; internal set; }

    /// <summary>True for failures worth retrying: 408, 429, 5xx, and no response at all (unless the adapter said otherwise).</summary>
    public bool IsTransient => transient ?? StatusCode is null or 408 or 429 or >= 500;
}
