using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Orleans.Search.Fakes.Providers;

/// <summary>
/// Loopback stand-in for Jina Search (<c>s.jina.ai</c>): <c>GET /?q=…&amp;num=N&amp;page=P</c> (or <c>POST /</c> with
/// <c>{q, num, page}</c>), bearer key required (401 <c>AuthenticationRequiredError</c> without it), the civkit envelope
/// <c>{code: 200, status: 20000, data: [...], meta: {usage}}</c> and an <c>X-Usage-Tokens</c> header. A 429 is a
/// <c>RateLimitTriggeredError</c> (status 42903) with <c>retryAfter</c>, <c>retryAfterDate</c> and a Retry-After header.
/// </summary>
public sealed class FakeJina : FakeProviderServer
{
    /// <summary>What a 429 asks for, in seconds (header and body agree, as on the real server).</summary>
    public int RetryAfterSeconds { get; set; } = 2;

    /// <summary>Leave the Retry-After header off a 429, so only the body says how long.</summary>
    public bool OmitRetryAfterHeader { get; set; }

    public static Task<FakeJina> StartAsync() => StartAsync(new FakeJina());

    protected override string? QueryOf(FakeProviderRequest request) => request.Method == "POST" ? JsonString(request.Body, e => e.GetProperty("q")) : request.Query("q");

    protected override bool IsAuthorized(FakeProviderRequest request) => request.Header("Authorization") == "Bearer " + ValidKey;

    protected override Task WriteFaultAsync(HttpContext context, FakeProviderFault fault)
    {
        switch (fault)
        {
            case FakeProviderFault.RateLimited:
                var until = DateTimeOffset.UtcNow.AddSeconds(RetryAfterSeconds);
                if (!OmitRetryAfterHeader)
                {
                    context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                }
                return WriteJsonAsync(context, 429, new
                {
                    data = (object?)null,
                    code = 429,
                    name = "RateLimitTriggeredError",
                    status = 42903,
                    message = "Rate limit exceeded (100 times in last 60 seconds)",
                    readableMessage = "RateLimitTriggeredError: Rate limit exceeded (100 times in last 60 seconds)",
                    retryAfter = RetryAfterSeconds,
                    retryAfterDate = until.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
                });
            case FakeProviderFault.BadKey:
                return WriteJsonAsync(context, 401, new
                {
                    data = (object?)null,
                    code = 401,
                    name = "AuthenticationRequiredError",
                    status = 40101,
                    message = "Authentication is required to use this endpoint. Please provide a valid API key via Authorization header.",
                    readableMessage = "AuthenticationRequiredError: Authentication is required to use this endpoint. Please provide a valid API key via Authorization header.",
                });
            case FakeProviderFault.OutOfCredit:
                return WriteJsonAsync(context, 402, new
                {
                    data = (object?)null,
                    code = 402,
                    name = "InsufficientCreditsError",
                    status = 40201,
                    message = "Account balance not enough to run this query, please recharge.",
                    readableMessage = "InsufficientCreditsError: Account balance not enough to run this query, please recharge.",
                });
            default:
                return WriteJsonAsync(context, 503, new
                {
                    data = (object?)null,
                    code = 503,
                    name = "ServiceCrashedError",
                    status = 50301,
                    message = "Service is overloaded, please try again later.",
                    readableMessage = "ServiceCrashedError: Service is overloaded, please try again later.",
                });
        }
    }

    protected override Task WriteResultsAsync(HttpContext context, FakeProviderRequest request)
    {
        string? q;
        int num, page;
        if (request.Method == "POST")
        {
            using var body = JsonDocument.Parse(request.Body);
            q = body.RootElement.TryGetProperty("q", out var qv) ? qv.GetString() : null;
            num = body.RootElement.TryGetProperty("num", out var nv) ? nv.GetInt32() : 10;
            page = body.RootElement.TryGetProperty("page", out var pv) ? pv.GetInt32() : 1;
        }
        else
        {
            q = request.Query("q");
            num = int.TryParse(request.Query("num") ?? request.Query("count"), CultureInfo.InvariantCulture, out var n) ? n : 10;
            page = int.TryParse(request.Query("page"), CultureInfo.InvariantCulture, out var p) ? p : 1;
        }
        if (string.IsNullOrEmpty(q) || num is < 0 or > 20)
        {
            return WriteJsonAsync(context, 400, new { data = (object?)null, code = 400, name = "ParamValidationError", status = 40001, message = "Invalid query or count", readableMessage = "ParamValidationError: Invalid query or count" });
        }
        var noContent = request.Header("X-Respond-With")?.Contains("no-content", StringComparison.Ordinal) == true;
        var results = Range((page - 1) * num + 1, num).Select(i => new
        {
            title = ResultTitle(q, i),
            url = ResultUrl(q, i),
            description = ResultSnippet(q, i),
            content = noContent ? "" : $"# {ResultTitle(q, i)}\n\nFull page markdown.",
            usage = new { tokens = 1000 },
        }).ToList();
        var tokens = Math.Max(10_000, results.Count * 1000);
        context.Response.Headers["X-Usage-Tokens"] = tokens.ToString(CultureInfo.InvariantCulture);
        return WriteJsonAsync(context, 200, new { code = 200, status = 20000, data = results, meta = new { usage = new { tokens } } });
    }
}
