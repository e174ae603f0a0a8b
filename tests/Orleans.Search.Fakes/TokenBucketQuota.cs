namespace Orleans.Search.Fakes;

/// <summary>
/// Token bucket that polices a requests-per-second quota. The bucket holds at most
/// <c>burst</c> tokens and refills continuously at <c>ratePerSecond</c>; each request takes one token.
/// Rate and burst are passed on every call so a test can change them while the server runs.
/// </summary>
public sealed class TokenBucketQuota
{
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();

    // Infinity means "full": the next limited call caps it at the burst size. This also
    // makes a switch from unlimited to limited start with a full bucket.
    private double _tokens = double.PositiveInfinity;
    private long _lastTimestamp;

    public TokenBucketQuota(TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _lastTimestamp = _time.GetTimestamp();
    }

    /// <summary>
    /// Takes one token if one is available. Otherwise returns false, and <paramref name="retryAfter"/>
    /// is how long it takes until the next token is available.
    /// A <paramref name="ratePerSecond"/> of 0 (or less) means unlimited. A burst below 1 counts as 1.
    /// </summary>
    public bool TryAcquire(double ratePerSecond, int burst, out TimeSpan retryAfter)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            var elapsedSeconds = _time.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
            _lastTimestamp = now;

            if (!(ratePerSecond > 0))
            {
                _tokens = double.PositiveInfinity;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            var capacity = Math.Max(1, burst);
            _tokens = Math.Min(capacity, _tokens + Math.Max(0, elapsedSeconds) * ratePerSecond);
            if (_tokens >= 1)
            {
                _tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / ratePerSecond);
            return false;
        }
    }

    /// <summary>Refills the bucket, as if no request had been made.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _tokens = double.PositiveInfinity;
            _lastTimestamp = _time.GetTimestamp();
        }
    }

    /// <summary>
    /// The whole seconds for a <c>Retry-After</c> header: the wait rounded up, and at least 1,
    /// because a client told "0" would retry at once and be refused again.
    /// </summary>
    public static int ToRetryAfterSeconds(TimeSpan wait)
    {
        var seconds = Math.Ceiling(wait.TotalSeconds);
        return seconds switch
        {
            < 1 => 1,
            > int.MaxValue => int.MaxValue,
            _ => (int)seconds,
        };
    }
}
