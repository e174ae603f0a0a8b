namespace Orleans.Search.Caching;

/// <summary>
/// Results of one (provider, normalized query, page), shared by every job and user for <c>Search:Cache:Ttl</c>.
/// Identical lookups while a fetch is in flight wait for it, so they cost one provider call in all.
/// </summary>
[Alias("Orleans.Search.IResultCacheGrain")]
public interface IResultCacheGrain : IGrainWithStringKey
{
    /// <summary>A hit, or the answer "you fetch" (then call <see cref="CompleteAsync"/> or <see cref="AbandonAsync"/> with the same id).</summary>
    /// <remarks><paramref name="fetcherSilo"/> is the caller's silo: if it dies while fetching, waiters stop waiting for it.</remarks>
    [Alias("Lookup")]
    Task<CacheLookup> LookupAsync(Guid fetcherId, SiloAddress? fetcherSilo, CancellationToken cancellationToken = default);

    [Alias("Complete"), OneWay]
    Task CompleteAsync(Guid fetcherId, IReadOnlyList<CachedHit> hits);

    [Alias("Abandon"), OneWay]
    Task AbandonAsync(Guid fetcherId);
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.CacheLookup")]
public sealed record CacheLookup
{
    /// <summary>Results served from the cache (or from a fetch this lookup waited for).</summary>
    [Id(0)] public IReadOnlyList<CachedHit>? Hits { get; init; }

    public bool IsHit => Hits is not null;
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.CachedHit")]
public sealed record CachedHit(
    [property: Id(0)] string Url,
    [property: Id(1)] string Title,
    [property: Id(2)] string Snippet,
    [property: Id(3)] string? Path = null,
    [property: Id(4)] int? Line = null);

public static class CacheKeys
{
    /// <summary>
    /// Spacing and Unicode composition do not make a query different; case does (to a provider, <c>AND</c> is an
    /// operator and <c>and</c> a word). Provider names are case-insensitive, as in configuration.
    /// </summary>
    public static string For(string provider, string query, int page) =>
        $"{provider.ToLowerInvariant()}|{page}|{Normalize(query)}";

    private static string Normalize(string query)
    {
        var spaced = string.Join(' ', query.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        try
        {
            return spaced.Normalize(System.Text.NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            // Not valid UTF-16 (a lone surrogate): nothing canonical to compose, so the text is its own key.
            return spaced;
        }
    }
}
