using Waiter = Orleans.Search.RateLimiting.QueuedCaller<Orleans.Search.RateLimiting.PermitRequest, Orleans.Search.RateLimiting.PermitGrant>;

namespace Orleans.Search.RateLimiting;

/// <summary>
/// In-memory by design: permits are not worth a storage write each, and after a crash the leases they stood
/// for are gone anyway. Reentrant so waiters never block the grain; all mutation happens between awaits.
/// A permit needs a free concurrency slot, a token that exists now, and no provider-imposed pause; otherwise the
/// caller waits in a fair queue that a timer drains as tokens accrue and slots free up.
/// </summary>
[Reentrant]
public sealed class RateLimiterGrain(LimiterSettingsSource settingsSource, IClusterMembershipService membership, TimeProvider time, ILogger<RateLimiterGrain> logger)
    : Grain, IRateLimiterGrain
{
    /// <summary>A queued caller is answered "not yet, ask again" after this, well inside the call timeout.</summary>
    private static readonly TimeSpan MaxQueueWait = TimeSpan.FromSeconds(10);

    /// <summary>How long to pause on a 429 that came without Retry-After.</summary>
    private static readonly TimeSpan DefaultThrottlePause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A queued waiter may be granted this much before its token is due. The dispatch timer fires that early, so a
    /// timer that runs a few milliseconds late (a busy host) does not leave the bucket full and waste the rate; the
    /// provider may see calls this much closer together, well inside <c>JitterToleranceMs</c>.
    /// </summary>
    private static readonly TimeSpan GrantLead = TimeSpan.FromMilliseconds(5);

    private readonly PermitBucket _bucket = new();
    private readonly LeaseBook<Lease> _leases = new(membership);
    private readonly FairQueue<Waiter> _queue = new();
    private readonly Dictionary<string, CircuitReport> _circuits = [];
    private readonly WakeTimer _dispatcher = new(time);
    private DateTimeOffset _pausedUntil;
    private long _granted;
    private long _expired;
    private long _throttled;

    private LimiterSettings Settings => settingsSource.For(this.GetPrimaryKeyString());

    async Task<PermitGrant> IRateLimiterGrain.AcquireAsync(PermitRequest request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        ExpireLeases(now);
        if (_queue.Count == 0 && TryGrant(request, now) is { } immediate)
        {
            return immediate;
        }
        if (request.NoWait)
        {
            return new PermitGrant { Granted = false, LeaseId = request.LeaseId };
        }

        var waiter = new Waiter(request);
        _queue.Enqueue(request.User ?? "", request.JobId ?? request.Holder, waiter);
        Dispatch(now);
        EnsureSweeper();
        return await waiter.WaitAsync(_queue, MaxQueueWait, time, () =>
        {
            _leases.Remove(request.LeaseId);
            Dispatch(time.GetUtcNow());
        }, new PermitGrant { Granted = false, LeaseId = request.LeaseId }, cancellationToken);
    }

    Task IRateLimiterGrain.ReleaseAsync(Guid leaseId, PermitOutcome? outcome)
    {
        var now = time.GetUtcNow();
        if (outcome is { StatusCode: 429 })
        {
            Throttle(now, outcome.RetryAfter ?? DefaultThrottlePause);
        }
        if (!_leases.Remove(leaseId))
        {
            // A request withdrawn while still queued.
            _queue.Remove(w => w.Request.LeaseId == leaseId && w.Completion.TrySetCanceled());
        }
        Dispatch(now);
        return Task.CompletedTask;
    }

    Task IRateLimiterGrain.RenewAsync(Guid leaseId, TimeSpan leaseDuration)
    {
        _leases.Renew(leaseId, time.GetUtcNow() + leaseDuration);
        return Task.CompletedTask;
    }

    Task IRateLimiterGrain.ReportCircuitAsync(CircuitReport report)
    {
        _circuits[report.Silo] = report;
        return Task.CompletedTask;
    }

    Task<LimiterSnapshot> IRateLimiterGrain.GetSnapshotAsync()
    {
        var now = time.GetUtcNow();
        ExpireLeases(now);
        var settings = Settings;
        var available = _bucket.Available(now, settings.PermitsPerMinute, settings.BurstInUse);
        var circuits = _circuits.Values.OrderBy(c => c.Silo, StringComparer.Ordinal).ToList();
        return Task.FromResult(new LimiterSnapshot
        {
            Key = this.GetPrimaryKeyString(),
            PermitsAvailable = double.IsPositiveInfinity(available) ? -1 : Math.Round(Math.Max(0, available), 2),
            Queued = _queue.Count,
            InFlight = _leases.Count,
            PermitsPerMinute = settings.PermitsPerMinute,
            Burst = settings.Burst,
            BurstInUse = settings.BurstInUse,
            MaxConcurrency = settings.MaxConcurrency == int.MaxValue ? 0 : settings.MaxConcurrency,
            Granted = _granted,
            LeasesExpired = _expired,
            Throttled = _throttled,
            PausedUntil = _pausedUntil > now ? _pausedUntil : null,
            // The states are ordered closed < half-open < open: the worst silo's breaker is the provider's.
            Circuit = circuits.Count == 0 ? CircuitState.Closed : circuits.Max(c => c.State),
            Circuits = circuits,
        });
    }

    private PermitGrant? TryGrant(PermitRequest request, DateTimeOffset now)
    {
        var settings = Settings;
        if (_leases.Count >= settings.MaxConcurrency || now < _pausedUntil || !_bucket.TryTake(now, settings.PermitsPerMinute, settings.BurstInUse, Lead(settings)))
        {
            return null;
        }
        _leases.Add(request.LeaseId, new Lease(request.Holder, request.HolderSilo, now + request.LeaseDuration));
        _granted++;
        EnsureSweeper();
        return new PermitGrant { Granted = true, LeaseId = request.LeaseId, NotBefore = now };
    }

    /// <summary>Grants queued waiters in fair order while permits last; otherwise wakes up when the next token is due.</summary>
    private void Dispatch(DateTimeOffset now)
    {
        while (_queue.Count > 0)
        {
            var settings = Settings;
            if (_leases.Count >= settings.MaxConcurrency)
            {
                return; // a release or an expiry dispatches again
            }
            var next = now < _pausedUntil ? _pausedUntil : _bucket.NextTokenAt(now, settings.PermitsPerMinute, settings.BurstInUse, Lead(settings));
            if (next > now)
            {
                _dispatcher.WakeAt(this, next, Dispatch);
                return;
            }
            _queue.TryPeek(out var waiter);
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
            if (TryGrant(waiter.Request, now) is not { } grant)
            {
                // The bucket said "now" but the token is a rounding error short: look again in a moment.
                _dispatcher.WakeAt(this, now + TimeSpan.FromMilliseconds(1), Dispatch);
                return;
            }
            _queue.TryDequeue(out _);
            if (!waiter.Completion.TrySetResult(grant))
            {
                _leases.Remove(grant.LeaseId);
            }
        }
    }

    /// <summary><see cref="GrantLead"/> in tokens (at most half a token).</summary>
    private static double Lead(LimiterSettings settings) => settings.PermitsPerMinute > 0 ? settings.PermitsPerMinute / 60 * GrantLead.TotalSeconds : 0;

    private void Throttle(DateTimeOffset now, TimeSpan retryAfter)
    {
        _throttled++;
        // Parsing clamps already; this guards the whole cluster against any caller (an older silo, a bug) asking for years.
        var until = now + Providers.ProviderHeaders.Clamp(retryAfter, settingsSource.MaxPause);
        if (until > _pausedUntil)
        {
            _pausedUntil = until;
            var settings = Settings;
            _bucket.Drain(now, settings.PermitsPerMinute, settings.BurstInUse);
            logger.ProviderThrottled(this.GetPrimaryKeyString(), until);
        }
    }

    /// <summary>Reclaims leases that expired or whose holder's silo was declared dead, and serves the queue with their slots.</summary>
    private void ExpireLeases(DateTimeOffset now)
    {
        var reclaimed = _leases.Reclaim(now, logger, this.GetPrimaryKeyString());
        if (reclaimed > 0)
        {
            _expired += reclaimed;
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

    private sealed record Lease(string Holder, SiloAddress? Silo, DateTimeOffset ExpiresAt) : ILimiterLease<Lease>
    {
        public Lease WithExpiry(DateTimeOffset expiresAt) => this with { ExpiresAt = expiresAt };
    }
}
