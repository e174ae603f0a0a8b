using Orleans.Search.Cluster;

namespace Orleans.Search.Caching;

/// <summary>
/// In memory: a cache entry is cheap to lose. Reentrant so waiters never block; the activation lives as long
/// as an entry may (collection age: <see cref="CacheOptions.CollectionAge"/>, set by the silo). Per page, one fetch at
/// a time is in flight (a dead fetcher's turn times out, and ends at once when the fetcher's silo is declared dead).
/// </summary>
[Reentrant]
public sealed class ResultCacheGrain(IOptionsMonitor<CacheOptions> options, IClusterMembershipService membership, TimeProvider time)
    : Grain, IResultCacheGrain
{
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How often a waiter checks that the fetcher's silo is still alive.</summary>
    private static readonly TimeSpan LivenessCheck = TimeSpan.FromSeconds(1);

    private readonly Dictionary<int, Entry> _pages = [];

    Task<IReadOnlyList<CacheLookup>> IResultCacheGrain.LookupPagesAsync(IReadOnlyList<int> pages, Guid fetcherId, SiloAddress? fetcherSilo)
    {
        var now = time.GetUtcNow();
        var lookups = new CacheLookup[pages.Count];
        for (var i = 0; i < pages.Count; i++)
        {
            lookups[i] = TryLookup(EntryOf(pages[i]), fetcherId, fetcherSilo, now) ?? new CacheLookup { InFlight = true };
        }
        return Task.FromResult<IReadOnlyList<CacheLookup>>(lookups);
    }

    async Task<CacheLookup> IResultCacheGrain.LookupAsync(int page, Guid fetcherId, SiloAddress? fetcherSilo, CancellationToken cancellationToken)
    {
        var entry = EntryOf(page);
        while (true)
        {
            if (TryLookup(entry, fetcherId, fetcherSilo, time.GetUtcNow()) is { } answer)
            {
                return answer;
            }
            var fetch = entry.Fetch!;
            try
            {
                var fetched = await fetch.Done.Task.WaitAsync(LivenessCheck, time, cancellationToken);
                if (fetched is not null)
                {
                    return new CacheLookup { Hits = fetched };
                }
            }
            catch (TimeoutException)
            {
                // Not done yet: look again (the fetcher may have died with its silo, or run out of time).
            }
            // Otherwise the fetch was abandoned: someone else becomes the fetcher (maybe us).
        }
    }

    /// <summary>A hit, or "you fetch" (the caller becomes the page's fetcher); null while another caller's fetch is in flight.</summary>
    private CacheLookup? TryLookup(Entry entry, Guid fetcherId, SiloAddress? fetcherSilo, DateTimeOffset now)
    {
        if (entry.Hits is not null && now < entry.ExpiresAt)
        {
            return new CacheLookup { Hits = entry.Hits };
        }
        if (entry.Fetch is null || entry.Fetch.StartedAt + FetchTimeout < now || FetcherDied(entry.Fetch))
        {
            entry.Fetch?.Done.TrySetResult(null);
            entry.Fetch = new Fetch(fetcherId, fetcherSilo, now);
            return new CacheLookup();
        }
        return null;
    }

    private Entry EntryOf(int page)
    {
        if (!_pages.TryGetValue(page, out var entry))
        {
            _pages[page] = entry = new Entry();
        }
        return entry;
    }

    private bool FetcherDied(Fetch fetch) => membership.CurrentSnapshot.HasDeclaredDead(fetch.Silo);

    Task IResultCacheGrain.CompleteAsync(int page, Guid fetcherId, IReadOnlyList<CachedHit> hits)
    {
        var entry = EntryOf(page);
        entry.Hits = hits;
        entry.ExpiresAt = time.GetUtcNow() + options.CurrentValue.Ttl;
        if (entry.Fetch?.FetcherId == fetcherId)
        {
            entry.Fetch.Done.TrySetResult(hits);
            entry.Fetch = null;
        }
        return Task.CompletedTask;
    }

    Task IResultCacheGrain.AbandonAsync(int page, Guid fetcherId)
    {
        if (_pages.TryGetValue(page, out var entry) && entry.Fetch?.FetcherId == fetcherId)
        {
            entry.Fetch.Done.TrySetResult(null);
            entry.Fetch = null;
        }
        return Task.CompletedTask;
    }

    private sealed class Entry
    {
        public IReadOnlyList<CachedHit>? Hits;
        public DateTimeOffset ExpiresAt;
        public Fetch? Fetch;
    }

    private sealed record Fetch(Guid FetcherId, SiloAddress? Silo, DateTimeOffset StartedAt)
    {
        public TaskCompletionSource<IReadOnlyList<CachedHit>?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
