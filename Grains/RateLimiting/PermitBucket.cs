namespace Orleans.Search.RateLimiting;

/// <summary>
/// A token bucket that hands out reservations: taking a token may leave the bucket in debt, and the taker
/// learns when its token is due. Callers that start no earlier than that never exceed
/// <c>burst + rate·t</c> calls in any window of length t.
/// </summary>
public sealed class PermitBucket
{
    private double _tokens = double.NaN;
    private DateTimeOffset _updated;

    /// <summary>Takes one token; returns when it becomes valid (now, or later when the bucket is in debt).</summary>
    public DateTimeOffset Reserve(DateTimeOffset now, double permitsPerMinute, int burst)
    {
        if (permitsPerMinute <= 0)
        {
            return now;
        }
        Refill(now, permitsPerMinute, burst);
        _tokens -= 1;
        return _tokens >= 0 ? now : now + TimeSpan.FromSeconds(-_tokens / (permitsPerMinute / 60));
    }

    /// <summary>Tokens available now (negative while in debt).</summary>
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
