using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Orleans.Search.Fakes.Providers;

/// <summary>
/// Loopback stand-in for the Brave web search API: <c>GET /res/v1/web/search?q=…&amp;count=N&amp;offset=P</c> (offset a
/// zero-based page index, 0–9; count 1–20) with <c>X-Subscription-Token</c>. Every answer carries the four
/// <c>X-RateLimit-*</c> headers as comma lists, one entry per window (per second, per month). A bad token is a 422
/// <c>SUBSCRIPTION_TOKEN_INVALID</c>; a 429 is an <c>ErrorResponse</c> <c>RATE_LIMITED</c> with no Retry-After.
/// </summary>
public sealed class FakeBrave : FakeProviderServer
{
    /// <summary>X-RateLimit-Remaining on successful answers: per second, per month.</summary>
    public string Remaining { get; set; } = "1, 14000";

    /// <summary>X-RateLimit-Reset on successful answers: seconds until each window resets.</summary>
    public string Reset { get; set; } = "1, 1419704";

    /// <summary>X-RateLimit-Remaining and X-RateLimit-Reset on a 429.</summary>
    public (string Remaining, string Reset) ThrottledWindows { get; set; } = ("0, 13999", "2, 1419704");

    public static Task<FakeBrave> StartAsync() => StartAsync(new FakeBrave());

    protected override string? QueryOf(FakeProviderRequest request) => request.Query("q");

    protected override bool IsAuthorized(FakeProviderRequest request) => request.Header("X-Subscription-Token") == ValidKey;

    private static void RateLimitHeaders(HttpContext context, string remaining, string reset)
    {
        context.Response.Headers["X-RateLimit-Limit"] = "1, 15000";
        context.Response.Headers["X-RateLimit-Policy"] = "1;w=1, 15000;w=2592000";
        context.Response.Headers["X-RateLimit-Remaining"] = remaining;
        context.Response.Headers["X-RateLimit-Reset"] = reset;
    }

    private static object Error(int status, string code, string detail, object meta) => new
    {
        type = "ErrorResponse",
        error = new { id = Guid.NewGuid().ToString(), status, code, detail, meta },
        time = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
    };

    protected override Task WriteFaultAsync(HttpContext context, FakeProviderFault fault)
    {
        switch (fault)
        {
            case FakeProviderFault.RateLimited:
                RateLimitHeaders(context, ThrottledWindows.Remaining, ThrottledWindows.Reset);
                return WriteJsonAsync(context, 429, Error(429, "RATE_LIMITED", "Request rate limit exceeded for plan.",
                    new { plan = "Free", rate_limit = 1, rate_current = 2, quota_limit = 15000, quota_current = 1001, component = "rate_limiter" }));
            case FakeProviderFault.BadKey:
                return WriteJsonAsync(context, 422, Error(422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid.", new { component = "authentication" }));
            case FakeProviderFault.OutOfCredit:
                RateLimitHeaders(context, "1, 0", "1, 1419704");
                return WriteJsonAsync(context, 402, Error(402, "QUOTA_LIMITED", "Request quota limit exceeded for plan.", new { component = "rate_limiter" }));
            default:
                return WriteJsonAsync(context, 500, Error(500, "INTERNAL_ERROR", "Unexpected error.", new { }));
        }
    }

    protected override Task WriteResultsAsync(HttpContext context, FakeProviderRequest request)
    {
        var q = request.Query("q");
        var count = int.TryParse(request.Query("count"), CultureInfo.InvariantCulture, out var c) ? c : 20;
        var offset = int.TryParse(request.Query("offset"), CultureInfo.InvariantCulture, out var o) ? o : 0;
        if (string.IsNullOrEmpty(q) || count is < 1 or > 20 || offset is < 0 or > 9)
        {
            return WriteJsonAsync(context, 422, Error(422, "VALIDATION", "Unable to validate request parameter(s)", new
            {
                errors = new[] { new { type = "less_than_equal", loc = new[] { "query", "offset" }, msg = "Input should be less than or equal to 9", input = offset.ToString(CultureInfo.InvariantCulture), ctx = new { le = 9 } } },
            }));
        }
        RateLimitHeaders(context, Remaining, Reset);
        var results = Range(offset * count + 1, count).Select(i => new
        {
            type = "search_result",
            subtype = "generic",
            title = ResultTitle(q, i),
            url = ResultUrl(q, i),
            description = $"Snippet {i} about <strong>{q}</strong>.",
            is_source_local = false,
            is_source_both = false,
            is_live = false,
            family_friendly = true,
            language = "en",
            page_age = "2026-01-01T00:00:00",
            age = "January 1, 2026",
            meta_url = new { scheme = "https", netloc = ResultHost, hostname = ResultHost, favicon = "https://imgs.example/fav", path = "› result" },
        }).ToList();
        var more = offset * count + count < TotalResults;
        object body = results.Count == 0
            ? new { type = "search", query = new { original = q, more_results_available = false, spellcheck_off = false } }
            : new
            {
                type = "search",
                query = new { original = q, more_results_available = more, spellcheck_off = false },
                mixed = new { type = "mixed", main = results.Select((_, i) => new { type = "web", index = i, all = false }) },
                web = new { type = "search", family_friendly = true, results },
            };
        return WriteJsonAsync(context, 200, body);
    }
}
