using System.Text.Json;

namespace Orleans.Search.Providers;

/// <summary>
/// Reads provider responses within <c>Search:MaxResponseBytes</c>: whatever a provider sends, a call holds at most
/// that much of it. A body over the limit fails the call for good (a retry would get the same body).
/// </summary>
public static class ProviderResponses
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Deserializes the body, reading no more than <paramref name="maxBytes"/> of it; also says how many bytes were read.</summary>
    public static async Task<(T? Payload, long Bytes)> ReadJsonAsync<T>(HttpResponseMessage response, string provider, long maxBytes, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (response.Content.Headers.ContentLength is { } length && length > maxBytes)
        {
            throw TooLarge(provider, status, maxBytes, $"{length} bytes announced");
        }
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using var bounded = new BoundedReadStream(body, maxBytes, throwWhenExceeded: true);
        try
        {
            var payload = await JsonSerializer.DeserializeAsync<T>(bounded, Json, cancellationToken).ConfigureAwait(false);
            return (payload, bounded.Position);
        }
        catch (ReadLimitExceededException)
        {
            throw TooLarge(provider, status, maxBytes, "stopped reading there");
        }
        catch (JsonException ex)
        {
            throw new ProviderException(provider, $"{provider} answered {status} with a body that is not the expected JSON: {ex.Message}", status, inner: ex, transient: false);
        }
    }

    private static ProviderException TooLarge(string provider, int status, long maxBytes, string detail) =>
        new(provider, $"{provider} answered {status} with a body over Search:MaxResponseBytes ({maxBytes} bytes; {detail}); not retried", status, transient: false);
}

/// <summary>Bounds on the text a provider hit may carry, so a provider cannot fill storage or a job's results with one field.</summary>
public static class ProviderText
{
    public const int MaxTitleChars = 300;
    public const int MaxSnippetChars = 1000;

    /// <summary>A longer URL is not cut (a cut URL points somewhere else): the hit is left out.</summary>
    public const int MaxUrlChars = 2048;

    /// <summary><paramref name="text"/> if it fits, else its start and "…", <paramref name="maxChars"/> chars in all (never half a surrogate pair).</summary>
    public static string Truncate(string text, int maxChars)
    {
        if (text.Length <= maxChars)
        {
            return text;
        }
        var cut = maxChars - 1;
        if (cut > 0 && char.IsHighSurrogate(text[cut - 1]))
        {
            cut--;
        }
        return string.Concat(text.AsSpan(0, cut), "…");
    }

    /// <summary>The hit within the bounds, or null when its URL is missing or too long to keep.</summary>
    public static ProviderHit? Bounded(string? url, string? title, string? snippet)
    {
        if (string.IsNullOrEmpty(url) || url.Length > MaxUrlChars)
        {
            return null;
        }
        return new ProviderHit(url, Truncate(string.IsNullOrEmpty(title) ? url : title, MaxTitleChars), Truncate(snippet ?? "", MaxSnippetChars));
    }
}

/// <summary>What an HTTP adapter may take from a provider: <c>Search:MaxResponseBytes</c> and <c>Search:MaxPauseSeconds</c>.</summary>
public sealed record ResponseLimits(long MaxResponseBytes, TimeSpan MaxPause)
{
    public static ResponseLimits From(SearchOptions options) => new(options.MaxResponseBytes, options.MaxPause);
}
