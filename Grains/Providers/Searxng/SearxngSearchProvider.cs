using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace Orleans.Search.Providers.Searxng;

/// <summary>The SearXNG JSON API: <c>GET {BaseUrl}/search?q=…&amp;format=json&amp;pageno=N</c>.</summary>
public sealed class SearxngSearchProvider(string name, SearchProviderOptions options, HttpClient http) : ISearchProvider
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
                var body = await ReadExcerptAsync(response, cancellationToken);
                throw new ProviderException(name, $"{name} answered {(int)response.StatusCode} {response.ReasonPhrase}: {body}",
                    (int)response.StatusCode, ProviderHeaders.RetryAfter(response, TimeSpan.FromSeconds(300)));
            }

            var payload = await response.Content.ReadFromJsonAsync<SearxngResponse>(cancellationToken)
                ?? throw new ProviderException(name, $"{name} answered an empty body.", (int)response.StatusCode);
            var hits = (payload.Results ?? [])
                .Where(r => !string.IsNullOrEmpty(r.Url))
                .Take(query.PageSize > 0 ? query.PageSize : int.MaxValue)
                .Select(r => new ProviderHit(r.Url!, r.Title ?? r.Url!, r.Content ?? ""))
                .ToList();
            return new ProviderPage(hits, (int)response.StatusCode);
        }
    }

    private static async Task<string> ReadExcerptAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return text.Length <= 200 ? text : text[..200] + "…";
    }

    private static string EnsureTrailingSlash(string url) => url.EndsWith('/') ? url : url + "/";

    private sealed record SearxngResponse([property: JsonPropertyName("results")] List<SearxngResult>? Results);

    private sealed record SearxngResult(
        [property: JsonPropertyName("url")] string? Url,
        [property: JsonPropertyName("title")] string? Title,
        [property: JsonPropertyName("content")] string? Content);
}

/// <summary>Creates SearXNG adapters on a named <see cref="HttpClient"/>.</summary>
public sealed class SearxngProviderFactory(IHttpClientFactory httpClients) : ISearchProviderFactory
{
    public const string HttpClientName = "searxng";

    public string Kind => "searxng";

    public ISearchProvider Create(string name, SearchProviderOptions options) =>
        new SearxngSearchProvider(name, options, httpClients.CreateClient(HttpClientName));
}
