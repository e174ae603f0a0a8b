namespace Orleans.Search.RateLimiting;

/// <summary>
/// A token bucket (rate per minute, capacity = burst) that only hands out tokens that exist now, so a caller
/// granted a token may call at once and the provider sees at most <c>burst + rate·t</c> calls in any window t.
/// </summary>
public sealed class PermitBucket
{
    private double _tokens = double.NaN;
    private DateTimeOffset _updated;

    /// <summary>Takes a token if one is available now.</summary>
    public bool TryTake(DateTimeOffset now, double permitsPerMinute, int burst)
    {
        if (permitsPerMinute <= 0)
        {
            return true;
        }
        Refill(now, permitsPerMinute, burst);
        if (_tokens < 1)
        {
            return false;
        }
        _tokens -= 1;
        return true;
    }

    /// <summary>When the next whole token will be there (now if one is).</summary>
    public DateTimeOffset NextTokenAt(DateTimeOffset now, double permitsPerMinute, int burst)
    {
        if (permitsPerMinute <= 0)
        {
            return now;
        }
        Refill(now, permitsPerMinute, burst);
        return _tokens >= 1 ? now : now + TimeSpan.FromSeconds((1 - _tokens) / (permitsPerMinute / 60));
    }

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
