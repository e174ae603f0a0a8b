using Orleans.Search.Providers;

namespace Orleans.Search.RateLimiting;

/// <summary>The limits in force for one limiter key.</summary>
public sealed record LimiterSettings(double PermitsPerMinute, int Burst, int MaxConcurrency);

/// <summary>Reads the current limits of a key from configuration, so a reload takes effect on the next call.</summary>
public sealed class LimiterSettingsSource(IOptionsMonitor<SearchOptions> search, IOptionsMonitor<UserLimitOptions> users)
{
    private static readonly LimiterSettings Unlimited = new(0, int.MaxValue, int.MaxValue);

    public LimiterSettings For(string key)
    {
        if (key.StartsWith("provider:", StringComparison.Ordinal))
        {
            return search.CurrentValue.Providers.TryGetValue(key["provider:".Length..], out var p)
                ? new LimiterSettings(p.PermitsPerMinute, p.Burst, Positive(p.MaxConcurrency))
                : Unlimited;
        }
        if (key.StartsWith("user:", StringComparison.Ordinal))
        {
            var u = users.CurrentValue;
            return new LimiterSettings(u.PermitsPerMinute, u.Burst, Positive(u.MaxConcurrency));
        }
        return Unlimited;
    }

    private static int Positive(int value) => value > 0 ? value : int.MaxValue;
}
