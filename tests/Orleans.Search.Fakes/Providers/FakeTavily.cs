using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Orleans.Search.Fakes.Providers;

/// <summary>
/// Loopback stand-in for Tavily: <c>POST /search</c> with a bearer key and <c>{query, max_results (0–20), …}</c>, no
/// paging beyond <c>max_results</c>. Errors are <c>{"detail": {"error": "…"}}</c>: 401 for a bad key, 429 when over the
/// rate limit, 432 for the plan's credit limit. Tavily documents no rate-limit headers; this fake's 429 sends a
/// Retry-After (an assumption, so the adapter's honouring of it can be seen).
/// </summary>
public sealed class FakeTavily : FakeProviderServer
{
    public int RetryAfterSeconds { get; set; } = 2;

    public static Task<FakeTavily> StartAsync() => StartAsync(new FakeTavily());

    protected override string? QueryOf(FakeProviderRequest request) => JsonString(request.Body, e => e.GetProperty("query"));

    protected override bool IsAuthorized(FakeProviderRequest request) => request.Header("Authorization") == "Bearer " + ValidKey;

    protected override Task WriteFaultAsync(HttpContext context, FakeProviderFault fault)
    {
        switch (fault)
        {
            case FakeProviderFault.RateLimited:
                context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                return WriteJsonAsync(context, 429, new { detail = new { error = "Your request has been blocked due to excessive requests. Please reduce rate of requests." } });
            case FakeProviderFault.BadKey:
                return WriteJsonAsync(context, 401, new { detail = new { error = "Unauthorized: missing or invalid API key." } });
            case FakeProviderFault.OutOfCredit:
                return WriteJsonAsync(context, 432, new { detail = new { error = "This request exceeds your plan's set usage limit. Please upgrade your plan or contact support@tavily.com" } });
            default:
                return WriteJsonAsync(context, 500, new { detail = new { error = "Internal Server Error" } });
        }
    }

    protected override Task WriteResultsAsync(HttpContext context, FakeProviderRequest request)
    {
        string? query = null;
        var max = 5;
        try
        {
            using var body = JsonDocument.Parse(request.Body);
            query = body.RootElement.TryGetProperty("query", out var qv) ? qv.GetString() : null;
            max = body.RootElement.TryGetProperty("max_results", out var mv) ? mv.GetInt32() : 5;
        }
        catch (JsonException)
        {
        }
        if (string.IsNullOrEmpty(query) || max is < 0 or > 20)
        {
            return WriteJsonAsync(context, 400, new { detail = new { error = "Invalid request: query is required and max_results must be between 0 and 20." } });
        }
        var results = Range(1, max).Select(i => new
        {
            title = ResultTitle(query, i),
            url = ResultUrl(query, i),
            content = ResultSnippet(query, i),
            score = Math.Round(1.0 - i / 100.0, 3),
            raw_content = (string?)null,
        });
        return WriteJsonAsync(context, 200, new
        {
            query,
            follow_up_questions = (object?)null,
            answer = (string?)null,
            images = Array.Empty<string>(),
            results,
            response_time = 0.42,
            request_id = Guid.NewGuid().ToString(),
        });
    }
}
