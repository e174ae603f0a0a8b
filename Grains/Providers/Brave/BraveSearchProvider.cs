using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Orleans.Search.Providers.Http;

namespace Orleans.Search.Providers.Brave;

/// <summary>
/// Brave web search: <c>GET {BaseUrl}res/v1/web/search?q=…&amp;count=N&amp;offset=P-1</c> with
/// <c>X-Subscription-Token</c>. <c>offset</c> is a zero-based page index up to 9, so pages past 10 are empty without a call.
/// </summary>
/// <remarks>
/// Brave sends <c>X-RateLimit-Remaining</c> and <c>X-RateLimit-Reset</c> on every answer, one entry per window (per second,
/// per month). A 429 waits for the window that is used up (Retry-After wins when present). A success that leaves a
/// window at 0 remaining makes the next call before that window's reset fail as a 429 without being sent: the limiter
/// hears it like any 429 and pauses the provider for the whole cluster, instead of spending a call to learn it.
/// </remarks>
public sealed partial class BraveSearchProvider(string name, SearchProviderOptions options, HttpClient http, ResponseLimits limits, TimeProvider time)
    : HttpSearchProvider(name, "brave", options, http, limits, DefaultBaseUrl)
{
    public const string DefaultBaseUrl = "https://api.search.brave.com/";
    private const int MaxCount = 20;
    private const int MaxOffset = 9;

    private long _quietUntilTicks;

    public override async Task<ProviderPage> SearchAsync(ProviderQuery query, CancellationToken cancellationToken)
    {
        var offset = query.Page - 1;
        if (offset > MaxOffset)
        {
            return new ProviderPage([]);
        }
        var now = time.GetUtcNow();
        var quietUntil = new DateTimeOffset(Interlocked.Read(ref _quietUntilTicks), TimeSpan.Zero);
        if (quietUntil > now)
        {
            var wait = quietUntil - now;
            throw new ProviderException(Name,
                $"{Name}: its X-RateLimit-Remaining said a window is used up; not calling for another {wait.TotalSeconds:0.#} s (call not sent)",
                (int)HttpStatusCode.TooManyRequests, wait);
        }

        var count = Math.Clamp(query.PageSize, 1, MaxCount);
        var uri = new Uri(BaseUrl, $"res/v1/web/search?q={Uri.EscapeDataString(query.Text)}&count={count}&offset={offset}");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Add("X-Subscription-Token", Options.ApiKey);
        var (payload, status, bytes) = await SendAsync<BraveResponse>(request, cancellationToken);
        // "web" is absent when there are no web results.
        var hits = (payload.Web?.Results ?? [])
            .Select(r => ProviderText.Bounded(r.Url, StripMarkup(r.Title), StripMarkup(r.Description)))
            .OfType<ProviderHit>()
            .Take(count)
            .ToList();
        return new ProviderPage(hits, status, Bytes: bytes);
    }

    protected override void OnSuccess(HttpResponseMessage response)
    {
        if (ExhaustedWindowReset(response) is { } reset)
        {
            var until = time.GetUtcNow() + ProviderHeaders.Clamp(reset, Limits.MaxPause);
            Interlocked.Exchange(ref _quietUntilTicks, until.UtcTicks);
        }
    }

    protected override ProviderException Failure(HttpResponseMessage response, int status, string excerpt, JsonElement? body)
    {
        var wait = response.Headers.NonValidated.Contains("Retry-After") ? ProviderHeaders.RetryAfter(response, Limits.MaxPause) : null;
        if (wait is null && status == (int)HttpStatusCode.TooManyRequests)
        {
            wait = ExhaustedWindowReset(response) is { } reset ? ProviderHeaders.Clamp(reset, Limits.MaxPause) : ProviderHeaders.RetryAfter(response, Limits.MaxPause);
        }
        var code = StringAt(body, "error", "code");
        var detail = StringAt(body, "error", "detail") ?? excerpt;
        return new ProviderException(Name, $"{Name} answered {status}{(code is null ? "" : $" {code}")}: {ProviderText.Truncate(detail, 200)}", status, wait);
    }

    /// <summary>The longest reset among the windows with nothing remaining, or null when every window has some left.</summary>
    internal static TimeSpan? ExhaustedWindowReset(HttpResponseMessage response)
    {
        var remaining = Windows(response, "X-RateLimit-Remaining");
        var resets = Windows(response, "X-RateLimit-Reset");
        TimeSpan? longest = null;
        for (var i = 0; i < Math.Min(remaining.Count, resets.Count); i++)
        {
            if (remaining[i] is 0 && resets[i] is { } seconds && (longest is null || seconds > longest.Value.TotalSeconds))
            {
                longest = TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2));
            }
        }
        return longest;
    }

    private static List<double?> Windows(HttpResponseMessage response, string header) =>
        response.Headers.NonValidated.TryGetValues(header, out var values)
            ? string.Join(',', values).Split(',').Select(v =>
                double.TryParse(v.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && d >= 0 ? d : (double?)null).ToList()
            : [];

    // Brave marks the query's words with <strong> unless text_decorations=false; the tags mean nothing in a snippet.
    private static string? StripMarkup(string? text) => text is null ? null : WebUtility.HtmlDecode(Tags().Replace(text, ""));

    [GeneratedRegex("<[^>]{1,100}>")]
    private static partial Regex Tags();

    private sealed record BraveResponse([property: JsonPropertyName("web")] BraveWeb? Web);

    private sealed record BraveWeb([property: JsonPropertyName("results")] List<BraveResult>? Results);

    private sealed record BraveResult(
        [property: JsonPropertyName("url")] string? Url,
        [property: JsonPropertyName("title")] string? Title,
        [property: JsonPropertyName("description")] string? Description);
}
