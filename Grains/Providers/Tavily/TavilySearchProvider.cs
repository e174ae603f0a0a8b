using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.Search.Providers.Http;

namespace Orleans.Search.Providers.Tavily;

/// <summary>
/// Tavily: <c>POST {BaseUrl}search</c> with a bearer key and <c>{query, max_results, search_depth: "basic"}</c>.
/// Tavily has no offset, only up to 20 results: page P asks for the first P × PageSize (at most 20) and keeps its
/// slice, so pages wholly past 20 results are empty without a call. Errors carry <c>{"detail": {"error": "…"}}</c>;
/// 432 and 433 (plan and credit limits) are not retried.
/// </summary>
public sealed class TavilySearchProvider(string name, SearchProviderOptions options, HttpClient http, ResponseLimits limits)
    : HttpSearchProvider(name, "tavily", options, http, limits, DefaultBaseUrl)
{
    public const string DefaultBaseUrl = "https://api.tavily.com/";
    private const int MaxResults = 20;

    public override async Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken)
    {
        var size = Math.Max(1, query.PageSize);
        var skip = (query.Page - 1) * size;
        if (skip >= MaxResults)
        {
            return new ProviderPage([]);
        }
        var take = Math.Min(MaxResults, skip + size);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUrl, "search"))
        {
            Content = JsonContent.Create(new TavilyRequest(query.Text, take, "basic")),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Options.ApiKey);
        var (payload, status, bytes) = await SendAsync<TavilyResponse>(request, cancellationToken);
        var hits = (payload.Results ?? [])
            .Skip(skip)
            .Take(size)
            .Select(r => ProviderText.Bounded(r.Url, r.Title, r.Content))
            .OfType<ProviderHit>()
            .ToList();
        return new ProviderPage(hits, status, Bytes: bytes);
    }

    protected override ProviderException Failure(HttpResponseMessage response, int status, string excerpt, JsonElement? body)
    {
        var detail = StringAt(body, "detail", "error") ?? StringAt(body, "detail") ?? excerpt;
        return new ProviderException(Name, $"{Name} answered {status}: {ProviderText.Truncate(detail, 200)}", status, ProviderHeaders.RetryAfter(response, Limits.MaxPause));
    }

    private sealed record TavilyRequest(
        [property: JsonPropertyName("query")] string Query,
        [property: JsonPropertyName("max_results")] int MaxResults,
        [property: JsonPropertyName("search_depth")] string SearchDepth);

    private sealed record TavilyResponse([property: JsonPropertyName("results")] List<TavilyResult>? Results);

    private sealed record TavilyResult(
        [property: JsonPropertyName("url")] string? Url,
        [property: JsonPropertyName("title")] string? Title,
        [property: JsonPropertyName("content")] string? Content);
}
