using System.Net.Http.Headers;
using System.Text.Json.Serialization;
using Orleans.Search.Providers.Http;

namespace Orleans.Search.Providers.Searxng;

/// <summary>
/// The SearXNG JSON API: <c>GET {BaseUrl}/search?q=…&amp;format=json&amp;pageno=N</c>, with a bearer key when one is
/// configured (an instance behind an authenticating proxy). The body is read within
/// <see cref="ResponseLimits.MaxResponseBytes"/> and every hit is cut to <see cref="ProviderText"/>'s bounds.
/// </summary>
public sealed class SearxngSearchProvider(string name, SearchProviderOptions options, HttpClient http, ResponseLimits limits)
    : HttpSearchProvider(name, "searxng", options, http, limits, defaultBaseUrl: null, requiresApiKey: false)
{
    public override async Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUrl, $"search?q={Uri.EscapeDataString(query.Text)}&format=json&pageno={query.Page}"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (!string.IsNullOrEmpty(Options.ApiKey))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Options.ApiKey);
        }
        var (payload, status, bytes) = await SendAsync<SearxngResponse>(request, cancellationToken);
        var hits = (payload.Results ?? [])
            .Select(r => ProviderText.Bounded(r.Url, r.Title, r.Content))
            .OfType<ProviderHit>()
            .Take(query.PageSize > 0 ? query.PageSize : int.MaxValue)
            .ToList();
        return new ProviderPage(hits, status, Bytes: bytes);
    }

    private sealed record SearxngResponse([property: JsonPropertyName("results")] List<SearxngResult>? Results);

    private sealed record SearxngResult(
        [property: JsonPropertyName("url")] string? Url,
        [property: JsonPropertyName("title")] string? Title,
        [property: JsonPropertyName("content")] string? Content);
}

/// <summary>Creates SearXNG adapters on a named <see cref="HttpClient"/>, with the response limits configured now.</summary>
public sealed class SearxngProviderFactory(IHttpClientFactory httpClients, IOptionsMonitor<SearchOptions> search) : ISearchProviderFactory
{
    public const string HttpClientName = "searxng";

    public string Kind => "searxng";

    public ISearchProvider Create(string name, SearchProviderOptions options) =>
        new SearxngSearchProvider(name, options, httpClients.CreateClient(HttpClientName), ResponseLimits.From(search.CurrentValue));
}
