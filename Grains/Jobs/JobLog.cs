namespace Orleans.Search.Jobs;

/// <summary>The job grain's log messages (source-generated).</summary>
internal static partial class JobLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: writing its row while deactivating failed")]
    public static partial void DeactivationWriteFailed(this ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: cancelling query {Index} failed")]
    public static partial void QueryCancelFailed(this ILogger logger, Exception exception, string jobId, int index);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: checking on stalled queries failed; trying again later")]
    public static partial void StallCheckFailed(this ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: nothing changed for {Period} at step {Step} ({Unfinished} queries unfinished, driver running: {Driving}); asking its queries")]
    public static partial void StallDetected(this ILogger logger, string jobId, TimeSpan period, string? step, int unfinished, bool driving);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: after the stall check, step {Step} with {Unfinished} queries unfinished")]
    public static partial void StallChecked(this ILogger logger, string jobId, string? step, int unfinished);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: starting query {Index} failed; the lifecycle reminder retries")]
    public static partial void QueryStartFailed(this ILogger logger, Exception exception, string jobId, int index);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the pipeline stopped at {Step}; trying again at the next check")]
    public static partial void PipelineStopped(this ILogger logger, Exception exception, string jobId, string? step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: bookkeeping after the end failed; trying again in {Delay}")]
    public static partial void EndBookkeepingFailed(this ILogger logger, Exception exception, string jobId, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: registering its lifecycle reminder failed; trying again at the next stall check")]
    public static partial void LifecycleReminderFailed(this ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: retention passed; deleting")]
    public static partial void RetentionPassed(this ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: indexing it for its owner failed; trying again at its next change")]
    public static partial void IndexingFailed(this ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: a coalesced write failed; trying again in {Delay}")]
    public static partial void CoalescedWriteFailed(this ILogger logger, Exception exception, string jobId, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: deleted by its owner")]
    public static partial void DeletedByOwner(this ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: publishing events {First}–{Last} failed; subscribers catch up from the tail")]
    public static partial void PublishFailed(this ILogger logger, Exception exception, string jobId, long first, long last);
}
