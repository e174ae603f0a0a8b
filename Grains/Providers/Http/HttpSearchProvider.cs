using System.Text;
using System.Text.Json;

namespace Orleans.Search.Providers.Http;

/// <summary>
/// What the HTTP adapters (<c>searxng</c>, <c>jina</c>, <c>brave</c>, <c>tavily</c>, <c>perplexity</c>) share: a BaseUrl and
/// an ApiKey checked when the adapter is made, one request sent with the response read within
/// <see cref="ResponseLimits.MaxResponseBytes"/>, and a failed response turned into a <see cref="ProviderException"/>
/// with its status, its wait (Retry-After, else the rate-limit reset headers) and the start of its body.
/// </summary>
public abstract class HttpSearchProvider : ISearchProvider
{
    /// <summary>Error bodies are small; more than this is not read, so a provider cannot make an error expensive.</summary>
    private const int ErrorBodyBytes = 16 * 1024;

    private const int ErrorExcerptChars = 200;

    /// <param name="defaultBaseUrl">The provider's public API; null when there is none and a BaseUrl must be configured.</param>
    /// <param name="requiresApiKey">False for a provider whose key is optional (a SearXNG instance behind a proxy may want one).</param>
    protected HttpSearchProvider(string name, string kind, SearchProviderOptions options, HttpClient http, ResponseLimits limits, string? defaultBaseUrl,
        bool requiresApiKey = true)
    {
        Name = name;
        Options = options;
        Http = http;
        Limits = limits;
        var baseUrl = string.IsNullOrWhiteSpace(options.BaseUrl) ? defaultBaseUrl : options.BaseUrl;
        if (baseUrl is null)
        {
            throw new ProviderException(name, $"Provider '{name}' ({kind}) needs a BaseUrl (Search:Providers:{name}:BaseUrl).", statusCode: 400);
        }
        BaseUrl = new Uri(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/");
        if (requiresApiKey && string.IsNullOrWhiteSpace(options.ApiKey))
        {
            throw new ProviderException(name, $"Provider '{name}' ({kind}) needs an ApiKey (Search:Providers:{name}:ApiKey).", statusCode: 400);
        }
    }

    public string Name { get; }

    protected SearchProviderOptions Options { get; }

    protected HttpClient Http { get; }

    protected ResponseLimits Limits { get; }

    protected Uri BaseUrl { get; }

    public abstract Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Sends <paramref name="request"/> and reads its JSON body, with the bytes of it read (for /debug); any non-2xx answer
    /// throws, with the bytes of its error body read in <see cref="ProviderException.ResponseBytes"/>.
    /// </summary>
    protected async Task<(T Payload, int StatusCode, long Bytes)> SendAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
        where T : class
    {
        HttpResponseMessage response;
        try
        {
            response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new ProviderException(Name, $"{Name}: {ex.Message}", inner: ex);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                var (excerpt, json, errorBytes) = await ReadErrorAsync(response, cancellationToken);
                using (json)
                {
                    var failure = Failure(response, status, excerpt, json?.RootElement);
                    failure.ResponseBytes = errorBytes;
                    throw failure;
                }
            }
            OnSuccess(response);
            var (payload, bytes) = await ProviderResponses.ReadJsonAsync<T>(response, Name, Limits.MaxResponseBytes, cancellationToken);
            return (payload ?? throw new ProviderException(Name, $"{Name} answered {status} with an empty body.", status, transient: false) { ResponseBytes = bytes },
                status, bytes);
        }
    }

    /// <summary>
    /// The error for a non-2xx answer. The default: the status decides whether it is worth a retry (408, 429, 5xx), and
    /// the wait comes from Retry-After or the rate-limit reset headers. Adapters override it where the body says more.
    /// </summary>
    protected virtual ProviderException Failure(HttpResponseMessage response, int status, string excerpt, JsonElement? body) =>
        new(Name, $"{Name} answered {status} {response.ReasonPhrase}: {excerpt}", status, ProviderHeaders.RetryAfter(response, Limits.MaxPause));

    /// <summary>Hears a successful answer's headers (Brave reads its rate-limit windows here).</summary>
    protected virtual void OnSuccess(HttpResponseMessage response)
    {
    }

    /// <summary>The start of the error body for a message, and the body as JSON when it is JSON and small enough to parse.</summary>
    private static async Task<(string Excerpt, JsonDocument? Json, long Bytes)> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text;
        long bytes;
        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using var bounded = new BoundedReadStream(body, ErrorBodyBytes, throwWhenExceeded: false);
            using var reader = new StreamReader(bounded, Encoding.UTF8);
            text = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            bytes = bounded.Position;
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            return ($"(body unreadable: {ex.Message})", null, 0);
        }
        JsonDocument? json = null;
        try
        {
            json = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
        }
        return (ProviderText.Truncate(text.Trim(), ErrorExcerptChars), json, bytes);
    }

    /// <summary>A string property of a JSON object, or null.</summary>
    protected static string? StringAt(JsonElement? element, params string[] path)
    {
        if (At(element, path) is { ValueKind: JsonValueKind.String } value)
        {
            return value.GetString();
        }
        return null;
    }

    /// <summary>A property nested under <paramref name="path"/>, or null when any step is missing.</summary>
    protected static JsonElement? At(JsonElement? element, params string[] path)
    {
        var current = element;
        foreach (var step in path)
        {
            if (current is not { ValueKind: JsonValueKind.Object } obj || !obj.TryGetProperty(step, out var next))
            {
                return null;
            }
            current = next;
        }
        return current;
    }
}
