using Orleans.Search.Jobs;

namespace Orleans.Search.Silo;

/// <summary>
/// Pokes every unfinished job (each <see cref="IActiveJobsGrain"/> shard's <c>ResumeAllAsync</c>), retrying a shard
/// while any of its jobs could not be resumed: right after a silo dies, calls can still be routed to it for a moment.
/// Pokes are idempotent, so several silos sweeping at once do no harm.
/// </summary>
internal sealed partial class ActiveJobsSweep(IGrainFactory grains, TimeProvider time, ILogger<ActiveJobsSweep> logger)
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
                    LogShardRetrying(logger, ex, shard, reason, attempt);
                    // Short first waits: after a silo death the cluster settles within seconds.
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, attempt)), time, cancellationToken);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    LogShardGivenUp(logger, ex, shard, reason);
                    break;
                }
            }
        }
        if (resumed > 0)
        {
            LogResumed(logger, resumed, reason);
        }
        return resumed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resuming active jobs of shard {Shard} ({Reason}) failed (attempt {Attempt}); retrying")]
    private static partial void LogShardRetrying(ILogger logger, Exception exception, int shard, string reason, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Giving up resuming shard {Shard} ({Reason}); its jobs resume on their reminders")]
    private static partial void LogShardGivenUp(ILogger logger, Exception exception, int shard, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resumed {Count} unfinished jobs ({Reason})")]
    private static partial void LogResumed(ILogger logger, int count, string reason);
}
