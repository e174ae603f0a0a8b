using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Orleans.Search.Fakes;

/// <summary>
/// Loopback stand-in for Jina Reader (<c>r.jina.ai</c>): <c>GET /{target-url}</c> with <c>Accept: application/json</c>
/// answers the civkit envelope <c>{"code":200,"status":20000,"data":{title, description, url, content, usage}, "meta"}</c>.
/// Pages it does not know answer 422 <c>AssertionFailureError</c>; <see cref="ThrottleNext"/> answers the real 429 body and <c>Retry-After</c>.
/// </summary>
public sealed class FakeJinaReader : IAsyncDisposable
{
    private LoopbackHost _host = null!;
    private readonly ConcurrentDictionary<string, (string Title, string Content)> _pages = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Target, string? Authorization, string? RespondWith)> _requests = new();
    private int _throttleNext;

    private FakeJinaReader()
    {
    }

    public Uri BaseUrl => _host.BaseUrl;

    public IReadOnlyList<(string Target, string? Authorization, string? RespondWith)> Requests => [.. _requests];

    public void Serve(string url, string title, string markdown) => _pages[url] = (title, markdown);

    /// <summary>The next <paramref name="count"/> requests get 429.</summary>
    public void ThrottleNext(int count) => Interlocked.Exchange(ref _throttleNext, count);

    public static async Task<FakeJinaReader> StartAsync()
    {
        var fake = new FakeJinaReader();
        fake._host = await LoopbackHost.StartAsync(fake.HandleAsync).ConfigureAwait(false);
        return fake;
    }

    private async Task HandleAsync(HttpContext context)
    {
        // The target URL is appended raw after the slash.
        var target = (context.Request.Path.Value ?? "/")[1..] + context.Request.QueryString.Value;
        _requests.Enqueue((target, context.Request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null,
            context.Request.Headers["X-Respond-With"].ToString() is { Length: > 0 } r ? r : null));
        context.Response.ContentType = "application/json; charset=utf-8";
        if (Interlocked.Decrement(ref _throttleNext) >= 0)
        {
            context.Response.StatusCode = 429;
            context.Response.Headers.RetryAfter = "1";
            await context.Response.WriteAsync("""{"data":null,"code":429,"name":"RateLimitTriggeredError","status":42903,"message":"Per IP rate limit exceeded (20 times in last 60 seconds)","readableMessage":"RateLimitTriggeredError: Per IP rate limit exceeded","retryAfter":1}""").ConfigureAwait(false);
            return;
        }
        if (!_pages.TryGetValue(target, out var page))
        {
            context.Response.StatusCode = 422;
            await context.Response.WriteAsync(JsonSerializer.Serialize(new { data = (object?)null, code = 422, name = "AssertionFailureError", status = 42206, message = $"Failed to goto {target}", readableMessage = $"AssertionFailureError: Failed to goto {target}" })).ConfigureAwait(false);
            return;
        }
        var tokens = page.Content.Length / 4;
        context.Response.Headers["X-Usage-Tokens"] = tokens.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            code = 200,
            status = 20000,
            data = new { title = page.Title, description = "", url = target, content = page.Content, usage = new { tokens } },
            meta = new { usage = new { tokens } },
        })).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync().ConfigureAwait(false);
    }
}
