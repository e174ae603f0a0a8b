using Orleans.Search.Jobs;

namespace Orleans.Search.Silo;

/// <summary>
/// At silo start, pokes every unfinished job so it resumes within seconds; reminders alone would wait for
/// their next period. Runs in the background with retries, so a slow database does not hold up the silo.
/// </summary>
internal sealed class ResumeActiveJobs(IGrainFactory grains, TimeProvider time, ILogger<ResumeActiveJobs> logger) : IStartupTask
{
    public Task Execute(CancellationToken cancellationToken)
    {
        _ = Task.Run(() => ResumeAllAsync(CancellationToken.None), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task ResumeAllAsync(CancellationToken cancellationToken)
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
                catch (Exception ex) when (attempt < 10)
                {
                    logger.LogWarning(ex, "Resuming active jobs of shard {Shard} failed (attempt {Attempt}); retrying", shard, attempt);
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt * 2)), time, cancellationToken);
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Giving up resuming shard {Shard}; its jobs resume on their reminders", shard);
                    break;
                }
            }
        }
        if (resumed > 0)
        {
            logger.LogInformation("Resumed {Count} unfinished jobs", resumed);
        }
    }
}
