using Orleans.Search.RateLimiting;

namespace Orleans.Search.Gateway.Events;

/// <summary>
/// Counts a user's open event streams and <c>POST /api/search</c> waits against <c>Limits:User:MaxOpenStreams</c>, across
/// the whole cluster: each holds a lease of the user's <c>streams:{user}</c> limiter grain (a concurrency cap, no rate),
/// renewed while it is open and released when it ends. A gateway that dies stops renewing, so its leases lapse within
/// <see cref="LeaseDuration"/>, or at once when it hosted a silo the cluster declared dead.
/// </summary>
public sealed partial class OpenStreamPermits(IGrainFactory grains, IOptionsMonitor<UserLimitOptions> limits, TimeProvider time,
    IServiceProvider services, ILogger<OpenStreamPermits> logger)
{
    /// <summary>How long a lease lives without renewal.</summary>
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromMinutes(1);

    /// <summary>Renewed three times per lease, so one lost (one-way) renewal costs nothing.</summary>
    private static readonly TimeSpan RenewPeriod = LeaseDuration / 3;

    /// <summary>A permit that counts for nothing: no cap, or nothing held open.</summary>
    public static readonly IAsyncDisposable NotCounted = new NoCap();

    /// <summary>The configured cap (0: none).</summary>
    public int Max => limits.CurrentValue.MaxOpenStreams;

    /// <summary>A permit to hold while the stream or wait is open (dispose it at the end), or null when the user is at the cap.</summary>
    public async Task<IAsyncDisposable?> TryAcquireAsync(string user, string holder)
    {
        if (Max <= 0)
        {
            return NotCounted;
        }
        var limiter = grains.GetGrain<IRateLimiterGrain>(LimiterKeys.Streams(user));
        var request = new PermitRequest
        {
            Holder = holder,
            User = user,
            LeaseId = Guid.NewGuid(),
            LeaseDuration = LeaseDuration,
            // Set when this gateway hosts a silo (embedded mode): its leases go the moment the cluster declares it dead.
            HolderSilo = services.GetService<ILocalSiloDetails>()?.SiloAddress,
            NoWait = true,
        };
        var grant = await limiter.AcquireAsync(request);
        return grant.Granted ? new Permit(limiter, request.LeaseId, time, logger) : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Open-stream permit {LeaseId}: {What} its lease failed; it lapses by itself")]
    private static partial void LogPermitCallFailed(ILogger logger, Guid leaseId, string what, Exception exception);

    private sealed class Permit : IAsyncDisposable
    {
        private readonly IRateLimiterGrain _limiter;
        private readonly Guid _leaseId;
        private readonly ILogger _logger;
        private readonly ITimer _renewal;
        private int _released;

        public Permit(IRateLimiterGrain limiter, Guid leaseId, TimeProvider time, ILogger logger)
        {
            _limiter = limiter;
            _leaseId = leaseId;
            _logger = logger;
            _renewal = time.CreateTimer(static state => ((Permit)state!).Renew(), this, RenewPeriod, RenewPeriod);
        }

        private void Renew() => _ = Call(_limiter.RenewAsync(_leaseId, LeaseDuration), "renewing");

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1)
            {
                return;
            }
            await _renewal.DisposeAsync();
            await Call(_limiter.ReleaseAsync(_leaseId), "releasing");
        }

        private async Task Call(Task call, string what)
        {
            try
            {
                await call;
            }
            catch (Exception ex)
            {
                // The count is only late to come down (or, for a lost renewal, early).
                LogPermitCallFailed(_logger, _leaseId, what, ex);
            }
        }
    }

    private sealed class NoCap : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
