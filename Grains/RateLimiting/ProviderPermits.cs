namespace Orleans.Search.RateLimiting;

/// <summary>
/// The caller's side of the limiters: a provider call needs a permit from its user's limiter and from the
/// provider's limiter. The request carries a lease id the caller chose, so it can always withdraw it.
/// </summary>
public sealed class ProviderPermits(IGrainFactory grains, ILocalSiloDetails localSilo, TimeProvider time, ILogger<ProviderPermits> logger)
{
    /// <summary>About 30 s of retries: longer than failure detection takes to declare a killed silo dead.</summary>
    private const int MaxClusterFailures = 20;

    private static bool IsClusterTransient(Exception ex) =>
        ex is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException or Orleans.Runtime.Messaging.ConnectionFailedException;

    public async Task<PermitLease> AcquireAsync(string owner, string provider, string holder, string? jobId, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var request = new PermitRequest { Holder = holder, JobId = jobId, User = owner, LeaseDuration = leaseDuration, LeaseId = Guid.NewGuid(), HolderSilo = localSilo.SiloAddress };
        var user = grains.GetGrain<IRateLimiterGrain>(LimiterKeys.User(owner));
        var providerLimiter = grains.GetGrain<IRateLimiterGrain>(LimiterKeys.Provider(provider));

        await AcquireOneAsync(user, request, cancellationToken);
        try
        {
            // The user's permit is held while the provider's queue is waited out (which can take minutes under a
            // tight quota): keep its lease alive each time the provider says "not yet", and once more when it grants,
            // so the user's limiter never reclaims the slot of a caller that is alive and about to call.
            if (await AcquireOneAsync(providerLimiter, request, cancellationToken, RenewUserLease) > 0)
            {
                RenewUserLease();
            }
        }
        catch
        {
            _ = user.ReleaseAsync(request.LeaseId);
            throw;
        }
        return new PermitLease(user, providerLimiter, request.LeaseId, (long)time.GetElapsedTime(started).TotalMilliseconds);

        void RenewUserLease() => _ = user.RenewAsync(request.LeaseId, request.LeaseDuration);
    }

    /// <summary>Asks until granted; returns how many times the limiter answered "not yet" (each one is told to <paramref name="onNotYet"/>).</summary>
    private async Task<int> AcquireOneAsync(IRateLimiterGrain limiter, PermitRequest request, CancellationToken cancellationToken, Action? onNotYet = null)
    {
        var notYet = 0;
        try
        {
            for (var failures = 0; ; )
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    // Pattern, not .Granted: an answer lost in a silo's death must read as "not yet", never as a crash.
                    if (await limiter.AcquireAsync(request, cancellationToken) is { Granted: true })
                    {
                        if (failures > 0)
                        {
                            logger.GrantedAfterFailures(limiter.GetPrimaryKeyString(), request.Holder, failures);
                        }
                        return notYet;
                    }
                    notYet++;
                    onNotYet?.Invoke();
                }
                catch (Exception ex) when (IsClusterTransient(ex) && ++failures < MaxClusterFailures)
                {
                    logger.LimiterUnreachable(ex, limiter.GetPrimaryKeyString(), request.Holder, failures);
                    // The limiter's silo died (or is being declared dead): the grain re-activates on a survivor.
                    // Waiting a little beats failing the page for good.
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * failures * failures)), time, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Withdraw the request even if the cancellation never reached the limiter: it may be queued, or just granted.
            _ = limiter.ReleaseAsync(request.LeaseId);
            throw;
        }
    }
}

/// <summary>Both permits of one provider call; disposing returns their concurrency slots.</summary>
public sealed class PermitLease(IRateLimiterGrain user, IRateLimiterGrain provider, Guid leaseId, long waitMs) : IDisposable
{
    private PermitOutcome? _outcome;
    private int _released;

    /// <summary>Time spent waiting for the permits.</summary>
    public long WaitMs { get; } = waitMs;

    /// <summary>Tells the provider's limiter how the call went (a 429 slows it down for the whole cluster).</summary>
    public void Report(PermitOutcome outcome) => _outcome = outcome;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            // One-way calls: releasing never waits on the limiters.
            _ = user.ReleaseAsync(leaseId);
            _ = provider.ReleaseAsync(leaseId, _outcome);
        }
    }
}
