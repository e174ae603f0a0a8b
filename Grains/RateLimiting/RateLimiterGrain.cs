namespace Orleans.Search.RateLimiting;

/// <summary>
/// In-memory by design: permits are not worth a storage write each, and after a crash the leases they
/// stood for are gone anyway. Reentrant so waiters never block the grain; all mutation happens between awaits.
/// </summary>
[Reentrant]
public sealed class RateLimiterGrain(LimiterSettingsSource settingsSource, TimeProvider time, ILogger<RateLimiterGrain> logger)
    : Grain, IRateLimiterGrain
{
    /// <summary>A queued caller is answered "not yet, ask again" after this, well inside the call timeout.</summary>
    private static readonly TimeSpan MaxQueueWait = TimeSpan.FromSeconds(10);

    private readonly PermitBucket _bucket = new();
    private readonly Dictionary<Guid, Lease> _leases = [];
    private readonly LinkedList<Waiter> _queue = new();
    private IGrainTimer? _sweeper;
    private long _granted;
    private long _expired;

    private LimiterSettings Settings => settingsSource.For(this.GetPrimaryKeyString());

    async Task<PermitGrant> IRateLimiterGrain.AcquireAsync(PermitRequest request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        ExpireLeases(now);
        if (_queue.Count == 0 && _leases.Count < Settings.MaxConcurrency)
        {
            return Grant(request, now);
        }

        var waiter = new Waiter(request);
        var node = _queue.AddLast(waiter);
        EnsureSweeper();
        try
        {
            return await waiter.Completion.Task.WaitAsync(MaxQueueWait, time, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            if (node.List is not null)
            {
                _queue.Remove(node);
            }
            // A slot may have been granted in the same instant the wait ended.
            if (waiter.Completion.Task.IsCompletedSuccessfully)
            {
                var grant = waiter.Completion.Task.Result;
                if (ex is TimeoutException)
                {
                    return grant;
                }
                _leases.Remove(grant.LeaseId);
            }
            if (ex is OperationCanceledException)
            {
                throw;
            }
            return new PermitGrant { Granted = false, LeaseId = request.LeaseId };
        }
    }

    Task IRateLimiterGrain.ReleaseAsync(Guid leaseId)
    {
        if (_leases.Remove(leaseId))
        {
            Dispatch(time.GetUtcNow());
        }
        else
        {
            for (var node = _queue.First; node is not null; node = node.Next)
            {
                if (node.Value.Request.LeaseId == leaseId)
                {
                    _queue.Remove(node);
                    node.Value.Completion.TrySetCanceled();
                    break;
                }
            }
        }
        return Task.CompletedTask;
    }

    Task<LimiterSnapshot> IRateLimiterGrain.GetSnapshotAsync()
    {
        var now = time.GetUtcNow();
        ExpireLeases(now);
        var settings = Settings;
        var available = _bucket.Available(now, settings.PermitsPerMinute, settings.Burst);
        return Task.FromResult(new LimiterSnapshot
        {
            Key = this.GetPrimaryKeyString(),
            PermitsAvailable = double.IsPositiveInfinity(available) ? -1 : Math.Round(available, 2),
            Queued = _queue.Count,
            InFlight = _leases.Count,
            PermitsPerMinute = settings.PermitsPerMinute,
            Burst = settings.Burst,
            MaxConcurrency = settings.MaxConcurrency == int.MaxValue ? 0 : settings.MaxConcurrency,
            Granted = _granted,
            LeasesExpired = _expired,
        });
    }

    private PermitGrant Grant(PermitRequest request, DateTimeOffset now)
    {
        var settings = Settings;
        var notBefore = _bucket.Reserve(now, settings.PermitsPerMinute, settings.Burst);
        _leases[request.LeaseId] = new Lease(request.Holder, notBefore + request.LeaseDuration);
        _granted++;
        EnsureSweeper();
        return new PermitGrant { Granted = true, LeaseId = request.LeaseId, NotBefore = notBefore };
    }

    private void Dispatch(DateTimeOffset now)
    {
        var max = Settings.MaxConcurrency;
        while (_queue.First is { } node && _leases.Count < max)
        {
            _queue.RemoveFirst();
            if (node.Value.Completion.Task.IsCompleted)
            {
                continue;
            }
            var grant = Grant(node.Value.Request, now);
            if (!node.Value.Completion.TrySetResult(grant))
            {
                _leases.Remove(grant.LeaseId);
            }
        }
    }

    private void ExpireLeases(DateTimeOffset now)
    {
        List<Guid>? expired = null;
        foreach (var (id, lease) in _leases)
        {
            if (lease.ExpiresAt <= now)
            {
                (expired ??= []).Add(id);
            }
        }
        if (expired is null)
        {
            return;
        }
        foreach (var id in expired)
        {
            logger.LogWarning("Limiter {Key}: lease of {Holder} expired unreleased; reclaiming it", this.GetPrimaryKeyString(), _leases[id].Holder);
            _leases.Remove(id);
            _expired++;
        }
        Dispatch(now);
    }

    /// <summary>While anything is held or queued, a timer reclaims expired leases even if no call arrives.</summary>
    private void EnsureSweeper()
    {
        _sweeper ??= this.RegisterGrainTimer(Sweep, new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)) { Interleave = true });
    }

    private Task Sweep(CancellationToken cancellationToken)
    {
        ExpireLeases(time.GetUtcNow());
        if (_leases.Count == 0 && _queue.Count == 0)
        {
            _sweeper?.Dispose();
            _sweeper = null;
        }
        return Task.CompletedTask;
    }

    private sealed record Lease(string Holder, DateTimeOffset ExpiresAt);

    private sealed class Waiter(PermitRequest request)
    {
        public PermitRequest Request { get; } = request;

        public TaskCompletionSource<PermitGrant> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
