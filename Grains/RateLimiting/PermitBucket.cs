namespace Orleans.Search.RateLimiting;

/// <summary>
/// A token bucket (rate per minute, capacity = burst) that hands out tokens that exist now, or that are due within
/// <c>lead</c> tokens (the bucket then goes that far below zero and pays it back before the next grant). The provider
/// sees at most <c>burst + lead + rate·t</c> calls in any window t; over time, never more than the rate.
/// </summary>
public sealed class PermitBucket
{
    private double _tokens = double.NaN;
    private DateTimeOffset _updated;

    /// <summary>Takes a token if one is available now (or due within <paramref name="lead"/> tokens, 0–0.5).</summary>
    public bool TryTake(DateTimeOffset now, double permitsPerMinute, int burst, double lead = 0)
    {
        if (permitsPerMinute <= 0)
        {
            return true;
        }
        Refill(now, permitsPerMinute, burst);
        if (_tokens < 1 - Lead(lead))
        {
            return false;
        }
        _tokens -= 1;
        return true;
    }

    /// <summary>When the next token can be taken (now if one can), with the same <paramref name="lead"/>.</summary>
    public DateTimeOffset NextTokenAt(DateTimeOffset now, double permitsPerMinute, int burst, double lead = 0)
    {
        if (permitsPerMinute <= 0)
        {
            return now;
        }
        Refill(now, permitsPerMinute, burst);
        var needed = 1 - Lead(lead);
        if (_tokens >= needed)
        {
            return now;
        }
        // Rounded up to a whole tick, so "later" never comes out as "now".
        var wait = TimeSpan.FromTicks((long)Math.Ceiling((needed - _tokens) / (permitsPerMinute / 60) * TimeSpan.TicksPerSecond));
        return now + (wait > TimeSpan.Zero ? wait : TimeSpan.FromTicks(1));
    }

    private static double Lead(double lead) => Math.Clamp(lead, 0, 0.5);

    /// <summary>Empties the bucket: after a provider's 429, start again from nothing.</summary>
    public void Drain(DateTimeOffset now, double permitsPerMinute, int burst)
    {
        Refill(now, permitsPerMinute, burst);
        _tokens = Math.Min(_tokens, 0);
    }

    /// <summary>Tokens available now.</summary>
    public double Available(DateTimeOffset now, double permitsPerMinute, int burst)
    {
        if (permitsPerMinute <= 0)
        {
            return double.PositiveInfinity;
        }
        Refill(now, permitsPerMinute, burst);
        return _tokens;
    }

    private void Refill(DateTimeOffset now, double permitsPerMinute, int burst)
    {
        var capacity = Math.Max(1, burst);
        if (double.IsNaN(_tokens))
        {
            _tokens = capacity;
            _updated = now;
            return;
        }
        var elapsed = (now - _updated).TotalSeconds;
        if (elapsed > 0)
        {
            _tokens = Math.Min(capacity, _tokens + elapsed * permitsPerMinute / 60);
            _updated = now;
        }
    }
}
