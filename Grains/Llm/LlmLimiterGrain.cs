using Waiter = Orleans.Search.RateLimiting.QueuedCaller<Orleans.Search.Llm.LlmPermitRequest, Orleans.Search.Llm.LlmPermitGrant>;
using Orleans.Search.Providers;

namespace Orleans.Search.Llm;

/// <summary>
/// One LLM provider's limiter for the whole cluster (<c>llm:{name}</c>): a request bucket, a token bucket and a cap on
/// calls in flight. In memory and reentrant, like the search providers' limiter: a lease is worth no storage write,
/// and waiters must never block the grain. A call reserves its worst case in tokens; when it ends, the reservation is
/// replaced by what the provider billed, so unused output tokens come back and an underestimate is paid back.
/// Waiters are served round-robin across users, and in order within a user: a large reservation at the head waits for
/// its tokens rather than being overtaken forever by small ones.
/// </summary>
[Reentrant]
public sealed class LlmLimiterGrain(IOptionsMonitor<LlmOptions> options, IOptionsMonitor<SearchOptions> search, IClusterMembershipService membership,
    TimeProvider time, ILogger<LlmLimiterGrain> logger) : Grain, ILlmLimiterGrain
{
    /// <summary>A queued caller is answered "not yet, ask again" after this, well inside the call timeout.</summary>
    private static readonly TimeSpan MaxQueueWait = TimeSpan.FromSeconds(10);

    private readonly RateBucket _requests = new();
    private readonly RateBucket _tokens = new();
    private readonly LeaseBook<Lease> _leases = new(membership);
    private readonly FairQueue<Waiter> _queue = new();
    private readonly WakeTimer _dispatcher = new(time);
    private DateTimeOffset _pausedUntil;
    private long _granted;
    private long _throttled;

    /// <summary>The limiter key for a provider.</summary>
    public static string Key(string provider) => $"llm:{provider}";

    private Limits Settings
    {
        get
        {
            var key = this.GetPrimaryKeyString();
            var name = key.StartsWith("llm:", StringComparison.Ordinal) ? key[4..] : key;
            if (!options.CurrentValue.Providers.TryGetValue(name, out var p))
            {
                return new Limits(0, 1, 0, 1, int.MaxValue, 1, 1);
            }
            return new Limits(p.RequestsPerMinute, Capacity(p.RequestsPerMinute, p), p.TokensPerMinute, Capacity(p.TokensPerMinute, p),
                p.MaxConcurrency > 0 ? p.MaxConcurrency : int.MaxValue, p.RequestsPerMinute * p.BurstSeconds / 60, p.TokensPerMinute * p.BurstSeconds / 60);
        }
    }

    async Task<LlmPermitGrant> ILlmLimiterGrain.AcquireAsync(LlmPermitRequest request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        ExpireLeases(now);
        if (_queue.Count == 0 && TryGrant(request, now))
        {
            return new LlmPermitGrant { Granted = true, LeaseId = request.LeaseId };
        }
        var waiter = new Waiter(request);
        _queue.Enqueue(request.User ?? "", request.Holder, waiter);
        Dispatch(now);
        EnsureSweeper();
        return await waiter.WaitAsync(_queue, MaxQueueWait, time, () => Return(request.LeaseId, 0),
            new LlmPermitGrant { Granted = false, LeaseId = request.LeaseId }, cancellationToken);
    }

    Task ILlmLimiterGrain.ReleaseAsync(Guid leaseId, long billedTokens, TimeSpan? pause)
    {
        var now = time.GetUtcNow();
        if (pause is { } wait)
        {
            _throttled++;
            var until = now + ProviderHeaders.Clamp(wait, search.CurrentValue.MaxPause);
            if (until > _pausedUntil)
            {
                _pausedUntil = until;
                logger.ProviderThrottled(this.GetPrimaryKeyString(), until);
            }
        }
        if (!Return(leaseId, billedTokens))
        {
            // A request withdrawn while still queued.
            _queue.Remove(w => w.Request.LeaseId == leaseId && w.Completion.TrySetCanceled());
        }
        Dispatch(now);
        return Task.CompletedTask;
    }

    Task ILlmLimiterGrain.StartedAsync(Guid leaseId)
    {
        if (_leases.TryGetValue(leaseId, out var lease) && !lease.Started)
        {
            var now = time.GetUtcNow();
            var limits = Settings;
            _leases.Update(leaseId, lease with { Started = true });
            ChargeLag(_requests, now, lease, lease.RequestsBefore, limits.RequestsPerMinute, limits.RequestCapacity, limits.ProviderRequestCapacity);
            ChargeLag(_tokens, now, lease, lease.TokensBefore, limits.TokensPerMinute, limits.TokenCapacity, limits.ProviderTokenCapacity);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// What our bucket may have gained on the provider's between the grant and now: its level before the take plus
    /// the refill since, beyond the provider's full bucket (which gains nothing while full).
    /// </summary>
    private static void ChargeLag(RateBucket bucket, DateTimeOffset now, Lease lease, double levelBefore, double perMinute, double capacity, double providerCapacity)
    {
        if (perMinute <= 0)
        {
            return;
        }
        var lag = levelBefore + Math.Max(0, (now - lease.GrantedAt).TotalSeconds) * perMinute / 60 - providerCapacity;
        if (lag > 0)
        {
            bucket.Give(now, perMinute, capacity, -lag);
        }
    }

    Task ILlmLimiterGrain.RenewAsync(Guid leaseId, TimeSpan leaseDuration)
    {
        _leases.Renew(leaseId, time.GetUtcNow() + leaseDuration);
        return Task.CompletedTask;
    }

    Task<LlmLimiterSnapshot> ILlmLimiterGrain.GetSnapshotAsync()
    {
        var now = time.GetUtcNow();
        var limits = Settings;
        return Task.FromResult(new LlmLimiterSnapshot
        {
            Key = this.GetPrimaryKeyString(),
            RequestsAvailable = Available(_requests, now, limits.RequestsPerMinute, limits.RequestCapacity),
            TokensAvailable = Available(_tokens, now, limits.TokensPerMinute, limits.TokenCapacity),
            InFlight = _leases.Count,
            Queued = _queue.Count,
            Granted = _granted,
            TokensReserved = _leases.Values.Sum(l => l.Tokens),
            Throttled = _throttled,
            PausedUntil = _pausedUntil > now ? _pausedUntil : null,
        });
    }

    /// <summary>
    /// <see cref="LlmProviderOptions.BurstSeconds"/> of the rate, less what accrues in <see cref="LlmProviderOptions.JitterToleranceMs"/>:
    /// a call reaches the provider a little after it was granted, and while the provider's bucket sits full that delay
    /// earns it nothing, whereas ours has refilled. Keeping that much back means ours is never ahead of the provider's.
    /// </summary>
    private static double Capacity(double perMinute, LlmProviderOptions p) =>
        Math.Max(1, perMinute * (p.BurstSeconds - Math.Max(0, p.JitterToleranceMs) / 1000) / 60);

    private static double Available(RateBucket bucket, DateTimeOffset now, double perMinute, double capacity)
    {
        var level = bucket.Level(now, perMinute, capacity);
        return double.IsPositiveInfinity(level) ? -1 : Math.Round(level, 2);
    }

    /// <summary>Ends a lease: its reservation is replaced by what was billed. False when no such lease is held.</summary>
    private bool Return(Guid leaseId, long billedTokens)
    {
        if (!_leases.Remove(leaseId, out var lease))
        {
            return false;
        }
        var limits = Settings;
        _tokens.Give(time.GetUtcNow(), limits.TokensPerMinute, limits.TokenCapacity, lease.Tokens - Math.Max(0, billedTokens));
        return true;
    }

    private bool TryGrant(LlmPermitRequest request, DateTimeOffset now)
    {
        var limits = Settings;
        if (_leases.Count >= limits.MaxConcurrency || now < _pausedUntil
            || _requests.ReadyAt(now, limits.RequestsPerMinute, limits.RequestCapacity, 1) > now
            || _tokens.ReadyAt(now, limits.TokensPerMinute, limits.TokenCapacity, request.Tokens) > now)
        {
            return false;
        }
        var requestsBefore = _requests.Level(now, limits.RequestsPerMinute, limits.RequestCapacity);
        var tokensBefore = _tokens.Level(now, limits.TokensPerMinute, limits.TokenCapacity);
        _requests.Take(now, limits.RequestsPerMinute, limits.RequestCapacity, 1);
        _tokens.Take(now, limits.TokensPerMinute, limits.TokenCapacity, request.Tokens);
        _leases.Add(request.LeaseId, new Lease(request.Holder, request.HolderSilo, request.Tokens, now + request.LeaseDuration, now, requestsBefore, tokensBefore));
        _granted++;
        EnsureSweeper();
        return true;
    }

    private void Dispatch(DateTimeOffset now)
    {
        while (_queue.TryPeek(out var waiter))
        {
            if (waiter.Completion.Task.IsCompleted)
            {
                _queue.TryDequeue(out _);
                continue;
            }
            if (_leases.IsOnDeadSilo(waiter.Request.HolderSilo))
            {
                _queue.TryDequeue(out _);
                waiter.Completion.TrySetCanceled();
                continue;
            }
            var limits = Settings;
            if (_leases.Count >= limits.MaxConcurrency)
            {
                return; // a release or an expiry dispatches again
            }
            var next = Max(now < _pausedUntil ? _pausedUntil : now,
                Max(_requests.ReadyAt(now, limits.RequestsPerMinute, limits.RequestCapacity, 1),
                    _tokens.ReadyAt(now, limits.TokensPerMinute, limits.TokenCapacity, waiter.Request.Tokens)));
            if (next > now || !TryGrant(waiter.Request, now))
            {
                _dispatcher.WakeAt(this, next > now ? next : now + TimeSpan.FromMilliseconds(1), Dispatch);
                return;
            }
            _queue.TryDequeue(out _);
            if (!waiter.Completion.TrySetResult(new LlmPermitGrant { Granted = true, LeaseId = waiter.Request.LeaseId }))
            {
                Return(waiter.Request.LeaseId, 0);
            }
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>Reclaims leases that expired or whose holder's silo was declared dead, and serves the queue with their slots.</summary>
    private void ExpireLeases(DateTimeOffset now)
    {
        // A reclaimed lease's tokens stay spent: nobody knows what the provider billed for it.
        var reclaimed = _leases.Reclaim(now, logger, this.GetPrimaryKeyString());
        if (reclaimed > 0)
        {
            Dispatch(now);
        }
    }

    private void EnsureSweeper() => _leases.EnsureSweeper(this, Sweep);

    /// <summary>The sweeper's tick: false once nothing is held or queued, which stops it.</summary>
    private bool Sweep()
    {
        ExpireLeases(time.GetUtcNow());
        return _leases.Count > 0 || _queue.Count > 0;
    }

    /// <summary>Our buckets' sizes (less the jitter headroom) and the provider's (<see cref="LlmProviderOptions.BurstSeconds"/> of each rate).</summary>
    private sealed record Limits(double RequestsPerMinute, double RequestCapacity, double TokensPerMinute, double TokenCapacity, int MaxConcurrency,
        double ProviderRequestCapacity, double ProviderTokenCapacity);

    private sealed record Lease(string Holder, SiloAddress? Silo, long Tokens, DateTimeOffset ExpiresAt, DateTimeOffset GrantedAt,
        double RequestsBefore, double TokensBefore, bool Started = false) : ILimiterLease<Lease>
    {
        public Lease WithExpiry(DateTimeOffset expiresAt) => this with { ExpiresAt = expiresAt };
    }
}

/// <summary>
/// A token bucket of weighted takes: it refills at <c>perMinute / 60</c> per second up to <c>capacity</c>, and may go
/// below zero (a take larger than the whole bucket waits for a full bucket; a true-up that exceeds the reservation is a
/// debt paid back before the next take). A rate of 0 or less means unlimited.
/// </summary>
public sealed class RateBucket
{
    private double _level = double.NaN;
    private DateTimeOffset _updated;

    public double Level(DateTimeOffset now, double perMinute, double capacity)
    {
        if (perMinute <= 0)
        {
            return double.PositiveInfinity;
        }
        Refill(now, perMinute, capacity);
        return _level;
    }

    /// <summary>When <paramref name="amount"/> can be taken (now if it can).</summary>
    public DateTimeOffset ReadyAt(DateTimeOffset now, double perMinute, double capacity, double amount)
    {
        if (perMinute <= 0)
        {
            return now;
        }
        Refill(now, perMinute, capacity);
        var needed = Math.Min(amount, capacity);
        if (_level >= needed)
        {
            return now;
        }
        var wait = TimeSpan.FromTicks((long)Math.Ceiling((needed - _level) / (perMinute / 60) * TimeSpan.TicksPerSecond));
        return now + (wait > TimeSpan.Zero ? wait : TimeSpan.FromTicks(1));
    }

    public void Take(DateTimeOffset now, double perMinute, double capacity, double amount)
    {
        if (perMinute > 0)
        {
            Refill(now, perMinute, capacity);
            _level -= amount;
        }
    }

    /// <summary>Gives <paramref name="amount"/> back (a negative amount charges more), never above the bucket's size.</summary>
    public void Give(DateTimeOffset now, double perMinute, double capacity, double amount)
    {
        if (perMinute > 0)
        {
            Refill(now, perMinute, capacity);
            _level = Math.Min(capacity, _level + amount);
        }
    }

    private void Refill(DateTimeOffset now, double perMinute, double capacity)
    {
        if (double.IsNaN(_level))
        {
            _level = capacity;
            _updated = now;
            return;
        }
        var elapsed = (now - _updated).TotalSeconds;
        if (elapsed > 0)
        {
            _level = Math.Min(capacity, _level + elapsed * perMinute / 60);
            _updated = now;
        }
    }
}
