namespace Orleans.Search.Caching;

/// <summary>The <c>Search:Cache</c> section: how long a provider page is served from the shared cache.</summary>
public sealed class CacheOptions
{
    public const string Section = "Search:Cache";

    /// <summary>
    /// How long a cache activation outlives its entry's TTL when idle, before it is collected. The silo derives the
    /// <see cref="ResultCacheGrain"/> collection age from the TTL with it, so an entry is never lost before it expires.
    /// </summary>
    public static readonly TimeSpan CollectionSlack = TimeSpan.FromMinutes(5);

    public TimeSpan Ttl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The idle time after which a <see cref="ResultCacheGrain"/> activation may be collected.</summary>
    public TimeSpan CollectionAge => Ttl + CollectionSlack;
}
