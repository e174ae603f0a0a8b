namespace Orleans.Search.Caching;

/// <summary>
/// Results of one (provider, normalized query), page by page, shared by every job and user for <c>Search:Cache:Ttl</c>.
/// Identical lookups of a page while a fetch of it is in flight wait for it, so they cost one provider call in all.
/// One activation holds all of a query's pages, so a query's first look at its pages is one call, not one per page.
/// </summary>
[Alias("Orleans.Search.IResultCacheGrain")]
public interface IResultCacheGrain : IGrainWithStringKey
{
    /// <summary>
    /// Looks at several pages at once, without waiting: for each, in order, a hit, "you fetch it" (then call
    /// <see cref="CompleteAsync"/> or <see cref="AbandonAsync"/> with the same id), or "in flight" (another caller fetches
    /// it: <see cref="LookupAsync"/> waits for that fetch).
    /// </summary>
    /// <remarks><paramref name="fetcherSilo"/> is the caller's silo: if it dies while fetching, waiters stop waiting for it.</remarks>
    [Alias("LookupPages")]
    Task<IReadOnlyList<CacheLookup>> LookupPagesAsync(IReadOnlyList<int> pages, Guid fetcherId, SiloAddress? fetcherSilo);

    /// <summary>A hit (waiting for a fetch in flight if there is one), or the answer "you fetch".</summary>
    [Alias("LookupPage")]
    Task<CacheLookup> LookupAsync(int page, Guid fetcherId, SiloAddress? fetcherSilo, CancellationToken cancellationToken = default);

    [Alias("CompletePage"), OneWay]
    Task CompleteAsync(int page, Guid fetcherId, IReadOnlyList<CachedHit> hits);

    [Alias("AbandonPage"), OneWay]
    Task AbandonAsync(int page, Guid fetcherId);
}

[GenerateSerializer, Immutable, Alias("Orleans.Search.CacheLookup")]
public sealed record CacheLookup
{
    /// <summary>Results served from the cache (or from a fetch this lookup waited for).</summary>
    [Id(0)] public IReadOnlyList<CachedHit>? Hits { get; init; }

    /// <summary>Another caller is fetching the page (only from <see cref="IResultCacheGrain.LookupPagesAsync"/>, which never waits).</summary>
    [Id(1)] public bool InFlight { get; init; }

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
    public static string For(string provider, string query) =>
        $"{provider.ToLowerInvariant()}|{Normalize(query)}";

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
