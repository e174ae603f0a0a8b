namespace Orleans.Search.RateLimiting;

/// <summary>
/// The caller's side of the limiters: a provider call needs a permit from its user's limiter and from the
/// provider's limiter. Waits for the reserved time locally, so the limiter grains are never blocked.
/// </summary>
public sealed class ProviderPermits(IGrainFactory grains, TimeProvider time)
{
    public async Task<PermitLease> AcquireAsync(string owner, string provider, string holder, string? jobId, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var request = new PermitRequest { Holder = holder, JobId = jobId, LeaseDuration = leaseDuration, LeaseId = Guid.NewGuid() };
        var user = grains.GetGrain<IRateLimiterGrain>(LimiterKeys.User(owner));
        var providerLimiter = grains.GetGrain<IRateLimiterGrain>(LimiterKeys.Provider(provider));

        var userGrant = await AcquireOneAsync(user, request, cancellationToken);
        PermitGrant providerGrant;
        try
        {
            providerGrant = await AcquireOneAsync(providerLimiter, request, cancellationToken);
        }
        catch
        {
            _ = user.ReleaseAsync(request.LeaseId);
            throw;
        }

        var lease = new PermitLease(user, userGrant.LeaseId, providerLimiter, providerGrant.LeaseId);
        try
        {
            var notBefore = userGrant.NotBefore > providerGrant.NotBefore ? userGrant.NotBefore : providerGrant.NotBefore;
            var wait = notBefore - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, cancellationToken);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch
        {
            lease.Dispose();
            throw;
        }
        lease.WaitMs = (long)time.GetElapsedTime(started).TotalMilliseconds;
        return lease;
    }

    private static async Task<PermitGrant> AcquireOneAsync(IRateLimiterGrain limiter, PermitRequest request, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var grant = await limiter.AcquireAsync(request, cancellationToken);
                if (grant.Granted)
                {
                    return grant;
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
public sealed class PermitLease(IRateLimiterGrain user, Guid userLease, IRateLimiterGrain provider, Guid providerLease) : IDisposable
{
    private int _released;

    /// <summary>Time spent waiting for the permits.</summary>
    public long WaitMs { get; internal set; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            // One-way calls: releasing never waits on the limiters.
            _ = user.ReleaseAsync(userLease);
            _ = provider.ReleaseAsync(providerLease);
        }
    }
}
