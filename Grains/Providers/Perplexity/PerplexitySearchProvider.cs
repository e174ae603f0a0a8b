using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.Search.Llm;
using Orleans.Search.Providers.Http;

namespace Orleans.Search.Providers.Perplexity;

/// <summary>
/// Perplexity Sonar: <c>POST {BaseUrl}chat/completions</c> with the query as the user message. Its answer becomes the
/// first hit (URL <c>urn:perplexity:answer:{id}</c>, the answer as snippet), then its <c>search_results</c>, or its
/// bare <c>citations</c> when it sent no search results. The call's <c>usage</c> goes into
/// <see cref="ProviderPage.Usage"/>. One call answers a query: pages after the first are empty without a call.
/// </summary>
/// <remarks>Errors use the OpenAI envelope; a 429 whose code is <c>insufficient_quota</c> is out of credit, not busy, and is not retried.</remarks>
public sealed class PerplexitySearchProvider(string name, SearchProviderOptions options, HttpClient http, ResponseLimits limits)
    : HttpSearchProvider(name, "perplexity", options, http, limits, DefaultBaseUrl)
{
    public const string DefaultBaseUrl = "https://api.perplexity.ai/";
    public const string DefaultModel = "sonar";
    public const string AnswerUrnPrefix = "urn:perplexity:answer:";

    public override async Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken)
    {
        if (query.Page > 1)
        {
            return new ProviderPage([]);
        }
        var body = new SonarRequest(Options.Model ?? DefaultModel, [new SonarMessage("user", query.Text)]);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUrl, "chat/completions")) { Content = JsonContent.Create(body) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Options.ApiKey);
        var (payload, status, bytes) = await SendAsync<SonarResponse>(request, cancellationToken);

        var hits = new List<ProviderHit>();
        var answer = payload.Choices?.FirstOrDefault()?.Message?.Content;
        if (!string.IsNullOrWhiteSpace(answer))
        {
            var id = string.IsNullOrEmpty(payload.Id) || payload.Id.Length > 200 ? Hash(query.Text + "\n" + answer) : payload.Id;
            hits.Add(ProviderText.Bounded(AnswerUrnPrefix + Uri.EscapeDataString(id), $"Perplexity answer: {query.Text}", answer)!);
        }
        var sources = payload.SearchResults is { Count: > 0 } results
            ? results.Select(r => ProviderText.Bounded(r.Url, r.Title, r.Snippet))
            : (payload.Citations ?? []).Select(url => ProviderText.Bounded(url, null, null));
        hits.AddRange(sources.OfType<ProviderHit>().DistinctBy(h => h.Url));
        if (query.PageSize > 0 && hits.Count > query.PageSize)
        {
            hits.RemoveRange(query.PageSize, hits.Count - query.PageSize);
        }
        var usage = payload.Usage is { } u
            ? new TokenUsage { Input = u.PromptTokens, Output = u.CompletionTokens, Reasoning = u.ReasoningTokens ?? 0 }
            : null;
        return new ProviderPage(hits, status, usage, bytes);
    }

    protected override ProviderException Failure(HttpResponseMessage response, int status, string excerpt, JsonElement? body)
    {
        var message = StringAt(body, "error", "message") ?? excerpt;
        var code = StringAt(body, "error", "code") ?? StringAt(body, "error", "type");
        // Out of credit looks like a 429 but waiting does not help.
        bool? transient = code is "insufficient_quota" || StringAt(body, "error", "type") is "insufficient_quota" ? false : null;
        return new ProviderException(Name, $"{Name} answered {status}{(code is null ? "" : $" {code}")}: {ProviderText.Truncate(message, 200)}",
            status, ProviderHeaders.RetryAfter(response, Limits.MaxPause), transient: transient);
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    private sealed record SonarRequest(
        [property: JsonPropertyName("model")] string Model,
        [property: JsonPropertyName("messages")] IReadOnlyList<SonarMessage> Messages);

    private sealed record SonarMessage(
        [property: JsonPropertyName("role")] string Role,
        [property: JsonPropertyName("content")] string Content);

    private sealed record SonarResponse(
        [property: JsonPropertyName("id")] string? Id,
        [property: JsonPropertyName("choices")] List<SonarChoice>? Choices,
        [property: JsonPropertyName("citations")] List<string>? Citations,
        [property: JsonPropertyName("search_results")] List<SonarSearchResult>? SearchResults,
        [property: JsonPropertyName("usage")] SonarUsage? Usage);

    private sealed record SonarChoice([property: JsonPropertyName("message")] SonarMessageBody? Message);

    private sealed record SonarMessageBody([property: JsonPropertyName("content")] string? Content);

    private sealed record SonarSearchResult(
        [property: JsonPropertyName("url")] string? Url,
        [property: JsonPropertyName("title")] string? Title,
        [property: JsonPropertyName("snippet")] string? Snippet);

    private sealed record SonarUsage(
        [property: JsonPropertyName("prompt_tokens")] long PromptTokens,
        [property: JsonPropertyName("completion_tokens")] long CompletionTokens,
        [property: JsonPropertyName("reasoning_tokens")] long? ReasoningTokens);
}
