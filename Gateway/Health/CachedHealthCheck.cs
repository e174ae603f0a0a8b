using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Orleans.Search.Gateway.Health;

/// <summary>
/// Runs <typeparamref name="TCheck"/> at most once per <see cref="Ttl"/> and lets concurrent probes share one run:
/// readiness is public, so a flood of probes must not become a flood of cluster calls or database connections.
/// A change (the database going away) still shows within <see cref="Ttl"/> plus one run.
/// </summary>
public sealed class CachedHealthCheck<TCheck>(TCheck inner, TimeProvider time) : IHealthCheck where TCheck : IHealthCheck
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);

    /// <summary>A run that takes longer counts as unhealthy, so one hung connection attempt cannot hold every probe.</summary>
    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private Task<HealthCheckResult>? _run;
    private DateTimeOffset _freshUntil;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        Task<HealthCheckResult> run;
        lock (_lock)
        {
            if (_run is null || _run.IsCompleted && time.GetUtcNow() >= _freshUntil)
            {
                // Not on the caller's token: the run is shared, and one caller giving up must not fail the others.
                _run = Task.Run(() => RunAsync(context));
            }
            run = _run;
        }
        return run.WaitAsync(cancellationToken);
    }

    private async Task<HealthCheckResult> RunAsync(HealthCheckContext context)
    {
        HealthCheckResult result;
        using var timeout = new CancellationTokenSource(RunTimeout, time);
        try
        {
            result = await inner.CheckHealthAsync(context, timeout.Token).WaitAsync(RunTimeout, time);
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
            result = HealthCheckResult.Unhealthy($"No answer within {RunTimeout.TotalSeconds:0} s.");
        }
        catch (Exception ex)
        {
            result = HealthCheckResult.Unhealthy("The check failed.", ex);
        }
        lock (_lock)
        {
            _freshUntil = time.GetUtcNow() + Ttl;
        }
        return result;
    }
}
