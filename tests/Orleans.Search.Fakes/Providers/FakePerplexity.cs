using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Orleans.Search.Fakes.Providers;

/// <summary>
/// Loopback stand-in for Perplexity Sonar: <c>POST /chat/completions</c> with a bearer key, <c>{model, messages}</c>.
/// The answer cites its sources in <c>citations</c> and <c>search_results</c> (or only <c>citations</c> when
/// <see cref="CitationsOnly"/>), and <c>usage</c> carries tokens and <c>cost</c>. Errors use the
/// <c>{"error": {message, type, code}}</c> envelope; a 429 comes with <c>X-RateLimit-*</c> headers (their names and
/// units are not documented for Sonar: this fake sends a reset in seconds); out of credit is a 429 <c>insufficient_quota</c>.
/// </summary>
public sealed class FakePerplexity : FakeProviderServer
{
    public const int PromptTokens = 12;
    public const int CompletionTokens = 87;
    public const int ReasoningTokens = 5;

    public int ResetSeconds { get; set; } = 2;

    /// <summary>Send only <c>citations</c>, no <c>search_results</c> (older answers and some models).</summary>
    public bool CitationsOnly { get; set; }

    /// <summary>How many sources an answer cites.</summary>
    public int Sources { get; set; } = 5;

    public static Task<FakePerplexity> StartAsync() => StartAsync(new FakePerplexity());

    public static string Answer(string query) => $"The answer about {query} is in the sources [1][2].";

    protected override string? QueryOf(FakeProviderRequest request) => JsonString(request.Body, e => e.GetProperty("messages").EnumerateArray().Last().GetProperty("content"));

    protected override bool IsAuthorized(FakeProviderRequest request) => request.Header("Authorization") == "Bearer " + ValidKey;

    private static object Error(int code, string type, string message) => new { error = new { message, type, code } };

    protected override Task WriteFaultAsync(HttpContext context, FakeProviderFault fault)
    {
        switch (fault)
        {
            case FakeProviderFault.RateLimited:
                context.Response.Headers["X-RateLimit-Limit"] = "50";
                context.Response.Headers["X-RateLimit-Remaining"] = "0";
                context.Response.Headers["X-RateLimit-Reset"] = ResetSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return WriteJsonAsync(context, 429, Error(429, "request_rate_limit_exceeded", "Rate limit exceeded: 50 requests per minute for sonar."));
            case FakeProviderFault.BadKey:
                return WriteJsonAsync(context, 401, Error(401, "invalid_api_key", "Invalid API key provided."));
            case FakeProviderFault.OutOfCredit:
                return WriteJsonAsync(context, 429, new { error = new { message = "You exceeded your current quota, please check your plan and billing details.", type = "insufficient_quota", code = "insufficient_quota" } });
            default:
                return WriteJsonAsync(context, 500, Error(500, "internal_server_error", "Internal server error."));
        }
    }

    protected override Task WriteResultsAsync(HttpContext context, FakeProviderRequest request)
    {
        string? model = null;
        string? query = null;
        try
        {
            using var parsed = JsonDocument.Parse(request.Body);
            model = parsed.RootElement.TryGetProperty("model", out var m) ? m.GetString() : null;
            if (parsed.RootElement.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
            {
                query = messages.EnumerateArray().LastOrDefault(e => e.GetProperty("role").GetString() == "user").GetProperty("content").GetString();
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
        {
        }
        if (model is null || query is null)
        {
            return WriteJsonAsync(context, 400, new { error = new { message = "invalid request body: model and messages are required", type = "invalid_request", code = 400, param = model is null ? "model" : "messages" } });
        }
        var sources = Range(1, Sources).ToList();
        var citations = sources.Select(i => ResultUrl(query, i)).ToList();
        object body = CitationsOnly
            ? new { id = "resp-" + Guid.NewGuid().ToString("N")[..12], model, created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), @object = "chat.completion", choices = Choices(query), citations, usage = Usage() }
            : new
            {
                id = "resp-" + Guid.NewGuid().ToString("N")[..12],
                model,
                created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                @object = "chat.completion",
                choices = Choices(query),
                citations,
                search_results = sources.Select(i => new { title = ResultTitle(query, i), url = ResultUrl(query, i), date = "2026-01-01", last_updated = "2026-01-02", snippet = ResultSnippet(query, i), source = "web" }),
                usage = Usage(),
            };
        return WriteJsonAsync(context, 200, body);
    }

    private static object[] Choices(string query) =>
    [
        new { index = 0, finish_reason = "stop", message = new { role = "assistant", content = Answer(query) }, delta = new { role = "assistant", content = "" } },
    ];

    private static object Usage() => new
    {
        prompt_tokens = PromptTokens,
        completion_tokens = CompletionTokens,
        total_tokens = PromptTokens + CompletionTokens,
        search_context_size = "low",
        citation_tokens = 0,
        num_search_queries = 1,
        reasoning_tokens = ReasoningTokens,
        cost = new { input_tokens_cost = 0.00001, output_tokens_cost = 0.0001, request_cost = 0.005, total_cost = 0.00511 },
    };
}
