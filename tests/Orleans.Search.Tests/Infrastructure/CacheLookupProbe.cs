using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Caching;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// Watches the result cache grains from inside the silo (an incoming grain call filter): how many lookups each page
/// received and how many were answered. A query's first look at its pages (<c>LookupPagesAsync</c>) counts as one lookup
/// of each page, answered at once for a hit or "you fetch"; a page another caller is fetching is answered only when the
/// caller's wait for that fetch (<c>LookupAsync</c>) returns. A lookup received but not answered is a caller waiting on
/// another's fetch, which is what coalescing tests must see before they let the fetch finish.
/// </summary>
public sealed class CacheLookupProbe : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<(string Key, int Page), Counts> _byPage = new();

    /// <summary>Registers this probe with a silo's services.</summary>
    public void AddTo(IServiceCollection services) => services.AddSingleton<IIncomingGrainCallFilter>(this);

    /// <summary>Lookups received and answered for the cache entry of (provider, query, page).</summary>
    public (int Received, int Answered) For(string provider, string query, int page) =>
        _byPage.TryGetValue((CacheKeys.For(provider, query), page), out var counts)
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
        if (context.InterfaceMethod is not { } method || method.DeclaringType != typeof(IResultCacheGrain))
        {
            await context.Invoke();
            return;
        }
        var key = context.TargetId.Key.ToString()!;
        switch (method.Name)
        {
            case nameof(IResultCacheGrain.LookupPagesAsync):
                var pages = (IReadOnlyList<int>)context.Request.GetArgument(0)!;
                foreach (var page in pages)
                {
                    Interlocked.Increment(ref CountsOf(key, page).Received);
                }
                await context.Invoke();
                var lookups = (IReadOnlyList<CacheLookup>)context.Result!;
                for (var i = 0; i < pages.Count; i++)
                {
                    if (!lookups[i].InFlight)
                    {
                        Interlocked.Increment(ref CountsOf(key, pages[i]).Answered);
                    }
                }
                break;
            case nameof(IResultCacheGrain.LookupAsync):
                try
                {
                    await context.Invoke();
                }
                finally
                {
                    Interlocked.Increment(ref CountsOf(key, (int)context.Request.GetArgument(0)!).Answered);
                }
                break;
            default:
                await context.Invoke();
                break;
        }
    }

    private Counts CountsOf(string key, int page) => _byPage.GetOrAdd((key, page), _ => new Counts());

    private sealed class Counts
    {
        public int Received;
        public int Answered;
    }
}
