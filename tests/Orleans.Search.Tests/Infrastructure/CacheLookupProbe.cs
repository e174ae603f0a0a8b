using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Caching;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// Watches the result cache grains from inside the silo (an incoming grain call filter): how many lookups each cache
/// key received and how many were answered. A lookup received but not answered is a caller waiting on another's fetch,
/// which is what coalescing tests must see before they let the fetch finish.
/// </summary>
public sealed class CacheLookupProbe : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<string, Counts> _byKey = new();

    /// <summary>Registers this probe with a silo's services.</summary>
    public void AddTo(IServiceCollection services) => services.AddSingleton<IIncomingGrainCallFilter>(this);

    /// <summary>Lookups received and answered for the cache entry of (provider, query, page).</summary>
    public (int Received, int Answered) For(string provider, string query, int page) =>
        _byKey.TryGetValue(CacheKeys.For(provider, query, page), out var counts)
            ? (Volatile.Read(ref counts.Received), Volatile.Read(ref counts.Answered))
            : (0, 0);

    /// <summary>
    /// Waits until the entry has one answered lookup (the caller told to fetch) and a second one waiting on that fetch.
    /// </summary>
    public Task WaitForSecondWaiterAsync(string provider, string query, int page) =>
        Eventually.ReturnsAsync(() => Task.FromResult(For(provider, query, page)), c => c is (2, 1),
            $"a second lookup of '{query}' page {page} waiting on the first one's fetch (received, answered)", TimeSpan.FromSeconds(30));

    async Task IIncomingGrainCallFilter.Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod is not { Name: nameof(IResultCacheGrain.LookupAsync) } method || method.DeclaringType != typeof(IResultCacheGrain))
        {
            await context.Invoke();
            return;
        }
        var counts = _byKey.GetOrAdd(context.TargetId.Key.ToString()!, _ => new Counts());
        Interlocked.Increment(ref counts.Received);
        try
        {
            await context.Invoke();
        }
        finally
        {
            Interlocked.Increment(ref counts.Answered);
        }
    }

    private sealed class Counts
    {
        public int Received;
        public int Answered;
    }
}
