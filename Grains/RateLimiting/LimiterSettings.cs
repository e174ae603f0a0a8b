using Orleans.Search.Providers;

namespace Orleans.Search.RateLimiting;

/// <summary>The limits in force for one limiter key: <paramref name="Burst"/> as configured, <paramref name="BurstInUse"/> after headroom.</summary>
public sealed record LimiterSettings(double PermitsPerMinute, int Burst, int BurstInUse, int MaxConcurrency);

/// <summary>Reads the current limits of a key from configuration, so a reload takes effect on the next call.</summary>
public sealed class LimiterSettingsSource(IOptionsMonitor<SearchOptions> search, IOptionsMonitor<UserLimitOptions> users)
{
    private static readonly LimiterSettings Unlimited = new(0, int.MaxValue, int.MaxValue, int.MaxValue);

    /// <summary>The longest pause a provider may impose (<c>Search:MaxPauseSeconds</c>).</summary>
    public TimeSpan MaxPause => search.CurrentValue.MaxPause;

    public LimiterSettings For(string key)
    {
        if (key.StartsWith("provider:", StringComparison.Ordinal))
        {
            return search.CurrentValue.Providers.TryGetValue(key["provider:".Length..], out var p)
                ? new LimiterSettings(p.PermitsPerMinute, p.Burst, EffectiveBurst(p), Positive(p.MaxConcurrency))
                : Unlimited;
        }
        if (key.StartsWith("streams:", StringComparison.Ordinal))
        {
            // Open event streams and sync waits: a cap on how many at once, no rate.
            return new LimiterSettings(0, int.MaxValue, int.MaxValue, Positive(users.CurrentValue.MaxOpenStreams));
        }
        if (key.StartsWith("user:", StringComparison.Ordinal))
        {
            var u = users.CurrentValue;
            return new LimiterSettings(u.PermitsPerMinute, u.Burst, u.Burst, Positive(u.MaxConcurrency));
        }
        return Unlimited;
    }

    private static int Positive(int value) => value > 0 ? value : int.MaxValue;

    /// <summary>
    /// Calls granted at different moments can reach the provider closer together than they were granted (a cold
    /// connection, a GC pause). Keeping back the tokens that accrue in <see cref="SearchProviderOptions.JitterToleranceMs"/>
    /// means the provider's own bucket never sees more than it allows; it costs only part of the initial burst.
    /// </summary>
    public static int EffectiveBurst(SearchProviderOptions provider)
    {
        if (provider.PermitsPerMinute <= 0)
        {
            return provider.Burst;
        }
        var headroom = (int)Math.Ceiling(provider.PermitsPerMinute / 60 * provider.JitterToleranceMs / 1000);
        return Math.Max(1, provider.Burst - headroom);
    }
}
