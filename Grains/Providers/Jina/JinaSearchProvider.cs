using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.Search.Providers.Http;

namespace Orleans.Search.Providers.Jina;

/// <summary>
/// Jina Search: <c>GET {BaseUrl}?q=…&amp;num=N&amp;page=P</c> with a bearer key (search refuses calls without one),
/// <c>Accept: application/json</c> for the <c>{code, status, data: [...]}</c> envelope and <c>X-Respond-With: no-content</c>
/// so only the result list comes back, not every page's text. At most 20 results a page.
/// A 429 says how long to wait in <c>Retry-After</c>, and again in the body's <c>retryAfter</c>.
/// </summary>
public sealed class JinaSearchProvider(string name, SearchProviderOptions options, HttpClient http, ResponseLimits limits)
    : HttpSearchProvider(name, "jina", options, http, limits, DefaultBaseUrl)
{
    public const string DefaultBaseUrl = "https://s.jina.ai/";
    private const int MaxResultsPerPage = 20;

    public override async Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken)
    {
        var count = Math.Clamp(query.PageSize, 1, MaxResultsPerPage);
        var uri = new Uri(BaseUrl, $"?q={Uri.EscapeDataString(query.Text)}&num={count}&page={query.Page}");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Options.ApiKey);
        request.Headers.Add("X-Respond-With", "no-content");
        var (payload, status, bytes) = await SendAsync<JinaEnvelope>(request, cancellationToken);
        var hits = (payload.Data ?? [])
            .Select(r => ProviderText.Bounded(r.Url, r.Title, r.Description))
            .OfType<ProviderHit>()
            .Take(count)
            .ToList();
        return new ProviderPage(hits, status, Bytes: bytes);
    }

    /// <summary>Retry-After wins; without it, the body's <c>retryAfter</c> seconds (Jina sends both on a 429).</summary>
    protected override ProviderException Failure(HttpResponseMessage response, int status, string excerpt, JsonElement? body)
    {
        var wait = ProviderHeaders.RetryAfter(response, Limits.MaxPause);
        if (wait is null && At(body, "retryAfter") is { ValueKind: JsonValueKind.Number } seconds && seconds.TryGetDouble(out var s) && double.IsFinite(s))
        {
            wait = TimeSpan.FromSeconds(Math.Clamp(s, 0, Math.Max(0, Limits.MaxPause.TotalSeconds)));
        }
        var reason = StringAt(body, "readableMessage") ?? StringAt(body, "message") ?? excerpt;
        var code = At(body, "status") is { ValueKind: JsonValueKind.Number } detailed && detailed.TryGetInt32(out var detailedStatus)
            ? $" ({StringAt(body, "name") ?? "error"} {detailedStatus.ToString(CultureInfo.InvariantCulture)})"
            : "";
        return new ProviderException(Name, $"{Name} answered {status}{code}: {ProviderText.Truncate(reason, 200)}", status, wait);
    }

    private sealed record JinaEnvelope([property: JsonPropertyName("data")] List<JinaResult>? Data);

    private sealed record JinaResult(
        [property: JsonPropertyName("url")] string? Url,
        [property: JsonPropertyName("title")] string? Title,
        [property: JsonPropertyName("description")] string? Description);
}
