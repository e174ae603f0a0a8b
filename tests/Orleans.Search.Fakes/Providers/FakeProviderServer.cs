using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Orleans.Search.Fakes.Providers;

/// <summary>One request as a provider fake saw it.</summary>
public sealed record FakeProviderRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public DateTimeOffset ArrivedAt { get; init; } = DateTimeOffset.UtcNow;

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>A query-string value, or null.</summary>
    public string? Query(string name)
    {
        var at = PathAndQuery.IndexOf('?');
        if (at < 0)
        {
            return null;
        }
        foreach (var pair in PathAndQuery[(at + 1)..].Split('&'))
        {
            var eq = pair.IndexOf('=');
            if (eq > 0 && Uri.UnescapeDataString(pair[..eq]) == name)
            {
                return Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            }
        }
        return null;
    }
}

/// <summary>What the next answers of a provider fake should be, in order, before it answers normally again.</summary>
public enum FakeProviderFault
{
    /// <summary>429 with the provider's real body and rate-limit headers.</summary>
    RateLimited,

    /// <summary>The provider's answer to a bad or missing key (401, or Brave's 422).</summary>
    BadKey,

    /// <summary>The provider's server error (500 or 503).</summary>
    ServerError,

    /// <summary>Out of credit or over the plan (402, 432, Perplexity's 429 insufficient_quota).</summary>
    OutOfCredit,
}

/// <summary>
/// The plumbing every search-provider fake shares: a real Kestrel server on 127.0.0.1 and an ephemeral port, every
/// request recorded with its headers and body, scripted faults answered first, and deterministic results:
/// result n (1-based, across pages) of a query is <see cref="ResultUrl"/>(query, n).
/// </summary>
public abstract class FakeProviderServer : IAsyncDisposable
{
    public const string ResultHost = "results.example";

    /// <summary>The key the fakes accept; any other is refused the provider's way.</summary>
    public const string ValidKey = "test-key-0123456789";

    protected static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly ConcurrentQueue<FakeProviderRequest> _requests = new();
    private readonly ConcurrentQueue<FakeProviderFault> _faults = new();
    private LoopbackHost? _host;

    public Uri BaseUrl => _host?.BaseUrl ?? throw new InvalidOperationException("The fake has not started.");

    /// <summary>How many results a query has in all; pages past them come back empty.</summary>
    public int TotalResults { get; set; } = 50;

    public IReadOnlyList<FakeProviderRequest> Requests => [.. _requests];

    /// <summary>The requests that asked for <paramref name="query"/>, whatever their answer.</summary>
    public IReadOnlyList<FakeProviderRequest> RequestsFor(string query) => [.. _requests.Where(r => QueryOf(r) == query)];

    public static string ResultUrl(string query, int n) =>
        string.Create(CultureInfo.InvariantCulture, $"https://{ResultHost}/{Uri.EscapeDataString(query.Replace(' ', '-'))}/{n}");

    public static string ResultTitle(string query, int n) => string.Create(CultureInfo.InvariantCulture, $"{query} — result {n}");

    public static string ResultSnippet(string query, int n) => string.Create(CultureInfo.InvariantCulture, $"Snippet {n} about {query}.");

    /// <summary>Answers the next requests with these faults, one each, then normally.</summary>
    public void FailNext(params FakeProviderFault[] faults)
    {
        foreach (var fault in faults)
        {
            _faults.Enqueue(fault);
        }
    }

    protected static async Task<T> StartAsync<T>(T fake) where T : FakeProviderServer
    {
        fake._host = await LoopbackHost.StartAsync(fake.ReceiveAsync).ConfigureAwait(false);
        return fake;
    }

    private async Task ReceiveAsync(HttpContext context)
    {
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        }
        var request = new FakeProviderRequest(
            context.Request.Method,
            context.Request.Path + context.Request.QueryString,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body);
        _requests.Enqueue(request);
        if (!IsAuthorized(request))
        {
            await WriteFaultAsync(context, FakeProviderFault.BadKey).ConfigureAwait(false);
            return;
        }
        if (_faults.TryDequeue(out var fault))
        {
            await WriteFaultAsync(context, fault).ConfigureAwait(false);
            return;
        }
        await WriteResultsAsync(context, request).ConfigureAwait(false);
    }

    protected abstract bool IsAuthorized(FakeProviderRequest request);

    /// <summary>The search text a request carries (query string or JSON body, as the provider takes it).</summary>
    protected abstract string? QueryOf(FakeProviderRequest request);

    /// <summary>A string property of a JSON body, or null when the body is not JSON or lacks it.</summary>
    protected static string? JsonString(string body, Func<JsonElement, JsonElement?> select)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return select(document.RootElement) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    protected abstract Task WriteFaultAsync(HttpContext context, FakeProviderFault fault);

    protected abstract Task WriteResultsAsync(HttpContext context, FakeProviderRequest request);

    /// <summary>Results <paramref name="first"/>… (1-based), at most <paramref name="count"/>, within <see cref="TotalResults"/>.</summary>
    protected IEnumerable<int> Range(int first, int count) =>
        first > TotalResults || count <= 0 ? [] : Enumerable.Range(first, Math.Min(count, TotalResults - first + 1));

    protected static Task WriteJsonAsync(HttpContext context, int status, object body, string contentType = "application/json")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, Json));
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync().ConfigureAwait(false);
        }
        GC.SuppressFinalize(this);
    }
}
