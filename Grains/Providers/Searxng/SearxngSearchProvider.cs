using System.Net.Http.Headers;
using System.Text.Json.Serialization;

namespace Orleans.Search.Providers.Searxng;

/// <summary>
/// The SearXNG JSON API: <c>GET {BaseUrl}/search?q=…&amp;format=json&amp;pageno=N</c>. The body is read within
/// <see cref="ResponseLimits.MaxResponseBytes"/> and every hit is cut to <see cref="ProviderText"/>'s bounds.
/// </summary>
public sealed class SearxngSearchProvider(string name, SearchProviderOptions options, HttpClient http, ResponseLimits limits) : ISearchProvider
{
    private readonly Uri _baseUrl = new(EnsureTrailingSlash(options.BaseUrl
        ?? throw new ProviderException(name, $"Provider '{name}' (searxng) needs a BaseUrl.", statusCode: 400)));

    public string Name => name;

    public async Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken)
    {
        var uri = new Uri(_baseUrl, $"search?q={Uri.EscapeDataString(query.Text)}&format=json&pageno={query.Page}");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (!string.IsNullOrEmpty(options.ApiKey))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new ProviderException(name, $"{name}: {ex.Message}", inner: ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var body = await ProviderResponses.ReadExcerptAsync(response, cancellationToken);
                throw new ProviderException(name, $"{name} answered {(int)response.StatusCode} {response.ReasonPhrase}: {body}",
                    (int)response.StatusCode, ProviderHeaders.RetryAfter(response, limits.MaxPause));
            }

            var payload = await ProviderResponses.ReadJsonAsync<SearxngResponse>(response, name, limits.MaxResponseBytes, cancellationToken)
                ?? throw new ProviderException(name, $"{name} answered an empty body.", (int)response.StatusCode);
            var hits = (payload.Results ?? [])
                .Select(r => ProviderText.Bounded(r.Url, r.Title, r.Content))
                .OfType<ProviderHit>()
                .Take(query.PageSize > 0 ? query.PageSize : int.MaxValue)
                .ToList();
            return new ProviderPage(hits, (int)response.StatusCode);
        }
    }

    private static string EnsureTrailingSlash(string url) => url.EndsWith('/') ? url : url + "/";

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
