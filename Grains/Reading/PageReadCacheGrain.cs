using System.Security.Cryptography;
using System.Text;
using Orleans.Search.Caching;
using Orleans.Search.Storage;

namespace Orleans.Search.Reading;

/// <summary>One URL's last successful read, kept for the result cache's TTL (<c>Search:Cache:Ttl</c>).</summary>
public interface IPageReadCacheGrain : IGrainWithStringKey
{
    /// <summary>The read, if one younger than the TTL is kept; null otherwise.</summary>
    Task<PageRead?> GetAsync();

    /// <summary>Keeps <paramref name="read"/> for the TTL.</summary>
    Task PutAsync(PageRead read);
}

[GenerateSerializer, Alias("Orleans.Search.PageReadCacheState")]
public sealed class PageReadCacheState
{
    [Id(0)] public PageRead? Read { get; set; }
    [Id(1)] public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>
/// Keyed by a hash of the normalized URL (see <see cref="PageUrls"/>). Persisted in its own row, not the job's: a
/// page's text can be megabytes, a job rewrites its row often, and a read stage re-run after a crash (or another job
/// reading the same page) finds the text without fetching again. An expired entry's row is deleted when it is next asked for.
/// </summary>
public sealed class PageReadCacheGrain(
    [PersistentState("page", SearchStorage.Name)] IPersistentState<PageReadCacheState> state,
    IOptionsMonitor<CacheOptions> cache,
    TimeProvider time) : Grain, IPageReadCacheGrain
{
    async Task<PageRead?> IPageReadCacheGrain.GetAsync()
    {
        if (state.State.Read is null)
        {
            return null;
        }
        if (state.State.ExpiresAt > time.GetUtcNow())
        {
            return state.State.Read;
        }
        await state.ClearStateAsync();
        return null;
    }

    async Task IPageReadCacheGrain.PutAsync(PageRead read)
    {
        state.State.Read = read with { Cached = false };
        state.State.ExpiresAt = time.GetUtcNow() + cache.CurrentValue.Ttl;
        await state.WriteStateAsync();
    }
}

/// <summary>URL normalization for the read cache.</summary>
public static class PageUrls
{
    /// <summary>Scheme and host lowercased (by <see cref="Uri"/>), default port and fragment dropped; null if not an absolute http(s) URL.</summary>
    public static string? Normalize(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return null;
        }
        var builder = new UriBuilder(uri) { Fragment = "" };
        if (uri.IsDefaultPort)
        {
            builder.Port = -1;
        }
        return builder.Uri.AbsoluteUri;
    }

    /// <summary>The cache grain's key: URLs can be longer than a storage key may be.</summary>
    public static string CacheKey(string normalizedUrl) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalizedUrl)));
}

/// <summary>
/// The <see cref="IPageReader"/> the silo registers: the cache first (one grain per URL), then the configured reader
/// (<c>direct</c> or <c>jina</c>). Only successful reads are kept: a failure or a skip may not last (a host back up, a
/// list of allowed hosts changed).
/// </summary>
public sealed class CachingPageReader(IGrainFactory grains, IPageReader inner) : IPageReader
{
    async Task<PageRead> IPageReader.ReadAsync(string url, CancellationToken cancellationToken)
    {
        var normalized = PageUrls.Normalize(url);
        if (normalized is null)
        {
            return await inner.ReadAsync(url, cancellationToken);
        }
        var entry = grains.GetGrain<IPageReadCacheGrain>(PageUrls.CacheKey(normalized));
        if (await entry.GetAsync().WaitAsync(cancellationToken) is { } cached)
        {
            return cached with { Url = url, Cached = true, Ms = 0, WaitMs = 0, StartedAt = null };
        }
        var read = await inner.ReadAsync(url, cancellationToken);
        if (read.Status == PageReadStatuses.Read)
        {
            await entry.PutAsync(read);
        }
        return read;
    }
}
