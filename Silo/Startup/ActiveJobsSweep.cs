using Orleans.Search.Jobs;

namespace Orleans.Search.Silo;

/// <summary>
/// Pokes every unfinished job (each <see cref="IActiveJobsGrain"/> shard's <c>ResumeAllAsync</c>), retrying a shard
/// while any of its jobs could not be resumed: right after a silo dies, calls can still be routed to it for a moment.
/// Pokes are idempotent, so several silos sweeping at once do no harm.
/// </summary>
internal sealed class ActiveJobsSweep(IGrainFactory grains, TimeProvider time, ILogger<ActiveJobsSweep> logger)
{
    private const int MaxAttempts = 15;

    public async Task<int> RunAsync(string reason, CancellationToken cancellationToken)
    {
        var resumed = 0;
        for (var shard = 0; shard < ActiveJobShards.Count; shard++)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    resumed += await grains.GetGrain<IActiveJobsGrain>(shard).ResumeAllAsync();
                    break;
                }
                catch (Exception ex) when (attempt < MaxAttempts && !cancellationToken.IsCancellationRequested)
                {
                    logger.LogWarning("Resuming active jobs of shard {Shard} ({Reason}) failed (attempt {Attempt}): {Error}; retrying",
                        shard, reason, attempt, ex.Message);
                    // Short first waits: after a silo death the cluster settles within seconds.
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, attempt)), time, cancellationToken);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    logger.LogError(ex, "Giving up resuming shard {Shard} ({Reason}); its jobs resume on their reminders", shard, reason);
                    break;
                }
            }
        }
        if (resumed > 0)
        {
            logger.LogInformation("Resumed {Count} unfinished jobs ({Reason})", resumed, reason);
        }
        return resumed;
    }
}
