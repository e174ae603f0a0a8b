using Orleans.Search.Cluster;

namespace Orleans.Search.Caching;

/// <summary>
/// In memory: a cache entry is cheap to lose. Reentrant so waiters never block; the activation lives as long
/// as an entry may (collection age: <see cref="CacheOptions.CollectionAge"/>, set by the silo), and one fetch at a time is in flight (a dead fetcher's turn times out, and ends
/// at once when the fetcher's silo is declared dead).
/// </summary>
[Reentrant]
public sealed class ResultCacheGrain(IOptionsMonitor<CacheOptions> options, IClusterMembershipService membership, TimeProvider time)
    : Grain, IResultCacheGrain
{
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How often a waiter checks that the fetcher's silo is still alive.</summary>
    private static readonly TimeSpan LivenessCheck = TimeSpan.FromSeconds(1);
    private IReadOnlyList<CachedHit>? _hits;
    private DateTimeOffset _expiresAt;
    private Fetch? _fetch;

    async Task<CacheLookup> IResultCacheGrain.LookupAsync(Guid fetcherId, SiloAddress? fetcherSilo, CancellationToken cancellationToken)
    {
        while (true)
        {
            var now = time.GetUtcNow();
            if (_hits is not null && now < _expiresAt)
            {
                return new CacheLookup { Hits = _hits };
            }
            if (_fetch is null || _fetch.StartedAt + FetchTimeout < now || FetcherDied(_fetch))
            {
                _fetch?.Done.TrySetResult(null);
                _fetch = new Fetch(fetcherId, fetcherSilo, now);
                return new CacheLookup();
            }
            var fetch = _fetch;
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

    private bool FetcherDied(Fetch fetch) => membership.CurrentSnapshot.HasDeclaredDead(fetch.Silo);

    Task IResultCacheGrain.CompleteAsync(Guid fetcherId, IReadOnlyList<CachedHit> hits)
    {
        _hits = hits;
        _expiresAt = time.GetUtcNow() + options.CurrentValue.Ttl;
        if (_fetch?.FetcherId == fetcherId)
        {
            _fetch.Done.TrySetResult(hits);
            _fetch = null;
        }
        return Task.CompletedTask;
    }

    Task IResultCacheGrain.AbandonAsync(Guid fetcherId)
    {
        if (_fetch?.FetcherId == fetcherId)
        {
            _fetch.Done.TrySetResult(null);
            _fetch = null;
        }
        return Task.CompletedTask;
    }

    private sealed record Fetch(Guid FetcherId, SiloAddress? Silo, DateTimeOffset StartedAt)
    {
        public TaskCompletionSource<IReadOnlyList<CachedHit>?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
