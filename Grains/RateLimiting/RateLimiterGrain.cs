using Orleans.Search.Cluster;

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
    private readonly Dictionary<Guid, Lease> _leases = [];
    private readonly FairQueue<Waiter> _queue = new();
    private readonly Dictionary<string, CircuitReport> _circuits = [];
    private DateTimeOffset _pausedUntil;
    private IGrainTimer? _sweeper;
    private IGrainTimer? _dispatcher;
    private DateTimeOffset _dispatchAt = DateTimeOffset.MaxValue;
    private long _granted;
    private long _expired;
    private long _throttled;

    /// <summary>No lease expires before this (a lower bound: renewals only push expiries later).</summary>
    private DateTimeOffset _earliestExpiry = DateTimeOffset.MaxValue;

    /// <summary>The membership version the leases were last checked against for holders on dead silos.</summary>
    private MembershipVersion _checkedMembership = MembershipVersion.MinValue;

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
        try
        {
            return await waiter.Completion.Task.WaitAsync(MaxQueueWait, time, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            _queue.Remove(w => ReferenceEquals(w, waiter));
            // A permit may have been granted in the same instant the wait ended.
            if (waiter.Completion.Task.IsCompletedSuccessfully)
            {
                if (ex is TimeoutException)
                {
                    return waiter.Completion.Task.Result;
                }
                _leases.Remove(request.LeaseId);
                Dispatch(time.GetUtcNow());
            }
            if (ex is OperationCanceledException)
            {
                throw;
            }
            return new PermitGrant { Granted = false, LeaseId = request.LeaseId };
        }
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
        if (_leases.TryGetValue(leaseId, out var lease))
        {
            var expiresAt = time.GetUtcNow() + leaseDuration;
            if (expiresAt > lease.ExpiresAt)
            {
                _leases[leaseId] = lease with { ExpiresAt = expiresAt };
            }
        }
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
        var expiresAt = now + request.LeaseDuration;
        _leases[request.LeaseId] = new Lease(request.Holder, request.HolderSilo, expiresAt);
        if (expiresAt < _earliestExpiry)
        {
            _earliestExpiry = expiresAt;
        }
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
                WakeAt(next);
                return;
            }
            _queue.TryPeek(out var waiter);
            if (waiter.Completion.Task.IsCompleted)
            {
                _queue.TryDequeue(out _);
                continue;
            }
            if (TryGrant(waiter.Request, now) is not { } grant)
            {
                // The bucket said "now" but the token is a rounding error short: look again in a moment.
                WakeAt(now + TimeSpan.FromMilliseconds(1));
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

    private void WakeAt(DateTimeOffset at)
    {
        if (_dispatcher is not null && _dispatchAt <= at)
        {
            return;
        }
        _dispatcher?.Dispose();
        _dispatchAt = at;
        var due = at - time.GetUtcNow();
        _dispatcher = this.RegisterGrainTimer(static (self, _) => self.OnWake(), this, new GrainTimerCreationOptions(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan) { Interleave = true });
    }

    private Task OnWake()
    {
        _dispatcher?.Dispose();
        _dispatcher = null;
        _dispatchAt = DateTimeOffset.MaxValue;
        Dispatch(time.GetUtcNow());
        return Task.CompletedTask;
    }

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

    /// <summary>
    /// Reclaims leases that expired or whose holder's silo was declared dead. Every call passes here, so the scan runs
    /// only when it can find something: a lease is due (<see cref="_earliestExpiry"/>) or the membership changed.
    /// Without that, a limiter holding n leases scanned all n on every request (n² per burst of n calls).
    /// </summary>
    private void ExpireLeases(DateTimeOffset now)
    {
        var members = membership.CurrentSnapshot;
        if (now < _earliestExpiry && members.Version == _checkedMembership)
        {
            return;
        }
        _checkedMembership = members.Version;
        List<Guid>? expired = null;
        var earliest = DateTimeOffset.MaxValue;
        // A killed silo never releases its leases; without this its slots stay taken until they expire, and the
        // survivors' calls (the resumed queries among them) queue behind them for up to a lease duration.
        foreach (var (id, lease) in _leases)
        {
            if (lease.ExpiresAt <= now || members.HasDeclaredDead(lease.Silo))
            {
                (expired ??= []).Add(id);
            }
            else if (lease.ExpiresAt < earliest)
            {
                earliest = lease.ExpiresAt;
            }
        }
        _earliestExpiry = earliest;
        if (expired is null)
        {
            return;
        }
        foreach (var id in expired)
        {
            var lease = _leases[id];
            logger.LeaseReclaimed(this.GetPrimaryKeyString(), lease.Holder,
                lease.ExpiresAt <= now ? "expired unreleased" : $"held on dead silo {lease.Silo}");
            _leases.Remove(id);
            _expired++;
        }
        Dispatch(now);
    }

    /// <summary>While anything is held or queued, a timer reclaims expired leases even if no call arrives.</summary>
    private void EnsureSweeper()
    {
        _sweeper ??= this.RegisterGrainTimer(static (self, _) => self.Sweep(), this,
            new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)) { Interleave = true });
    }

    private Task Sweep()
    {
        ExpireLeases(time.GetUtcNow());
        if (_leases.Count == 0 && _queue.Count == 0)
        {
            _sweeper?.Dispose();
            _sweeper = null;
        }
        return Task.CompletedTask;
    }

    private sealed record Lease(string Holder, SiloAddress? Silo, DateTimeOffset ExpiresAt);

    private sealed class Waiter(PermitRequest request)
    {
        public PermitRequest Request { get; } = request;

        public TaskCompletionSource<PermitGrant> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
