using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Orleans.Streams;

namespace Orleans.Search.Gateway.Events;

/// <summary>One item of a job's feed: a snapshot or an event, each with the sequence number it stands at.</summary>
public sealed record JobFeedItem(string Type, JobStatus? Snapshot, JobEvent? Event)
{
    public const string SnapshotType = "snapshot";

    /// <summary>An event's own seq; a snapshot's is the last seq it reflects, so a client resuming from it misses nothing.</summary>
    public long Seq => Event?.Seq ?? Snapshot!.LastSeq;

    public static JobFeedItem Of(JobStatus snapshot) => new(SnapshotType, snapshot, null);

    public static JobFeedItem Of(JobEvent e) => new(e.Type, null, e);
}

/// <summary>
/// Follows one job so that a client's view only moves forward. Without a last seen seq: a snapshot of the job as it is
/// now (standing at the last seq it reflects), then only the events after it. With one: every retained event after it;
/// if the tail no longer holds them all, a snapshot stands in for the dropped ones. Seqs strictly increase and progress
/// never goes back, so a snapshot is never older than anything already sent.
/// The progress stream carries what happens next; the job's own tail fills any gap (a lost stream message,
/// a subscription made late, a resumed job), and is polled if the stream goes quiet. Ends after the terminal event.
/// </summary>
public sealed partial class JobEventFeed(IClusterClient cluster, ILogger<JobEventFeed> logger)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    /// <summary>Tail polls that may find a terminal status without its event before the feed ends anyway.</summary>
    private const int MaxTerminalPolls = 3;

    /// <param name="afterSeq">The last seq the client has (its Last-Event-ID), or null for a client that has nothing yet.</param>
    public async IAsyncEnumerable<JobFeedItem> ReadAsync(string jobId, string user, long? afterSeq, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var job = cluster.GetGrain<ISearchJobGrain>(jobId);
        var live = Channel.CreateUnbounded<JobEvent>(new UnboundedChannelOptions { SingleReader = true });
        // Subscribe before reading the job, so nothing falls between the two.
        var subscription = await SubscribeAsync(jobId, live.Writer);
        try
        {
            long last;
            if (afterSeq is { } after)
            {
                last = after;
            }
            else
            {
                var status = await job.GetStatusAsync(user, includeResults: false);
                if (status is null)
                {
                    yield break;
                }
                yield return JobFeedItem.Of(status);
                if (JobStates.IsTerminal(status.Status))
                {
                    // The snapshot already says how it ended.
                    yield break;
                }
                last = status.LastSeq;
            }

            var terminalPolls = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                var page = await job.GetEventsAsync(user, last);
                if (page is null)
                {
                    yield break;
                }
                if (page.FirstRetainedSeq > last + 1)
                {
                    // Events after the client's last one were dropped from the tail: a snapshot stands in for them. It is
                    // read after the tail, so it reflects at least everything the client has.
                    var status = await job.GetStatusAsync(user, includeResults: false);
                    if (status is null)
                    {
                        yield break;
                    }
                    if (status.LastSeq > last)
                    {
                        last = status.LastSeq;
                        yield return JobFeedItem.Of(status);
                        if (JobStates.IsTerminal(status.Status))
                        {
                            yield break;
                        }
                        continue;
                    }
                }
                foreach (var e in page.Events)
                {
                    if (e.Seq <= last)
                    {
                        continue;
                    }
                    last = e.Seq;
                    yield return JobFeedItem.Of(await WithPageResultsAsync(job, user, e));
                    if (JobEventTypes.IsTerminal(e.Type))
                    {
                        yield break;
                    }
                }
                if (JobStates.IsTerminal(page.Status))
                {
                    // The status turns terminal a moment before its event is emitted (cancel first stops the queries):
                    // wait for the event. A client whose Last-Event-ID is the terminal event already has it.
                    if (page.Events.Count == 0 && await HasTerminalEventAsync(job, user, last) || ++terminalPolls > MaxTerminalPolls)
                    {
                        yield break;
                    }
                }

                // Take contiguous live events straight from the stream; anything else sends us back to the tail.
                while (await NextLiveAsync(live.Reader, cancellationToken) is { } e)
                {
                    if (e.Seq <= last)
                    {
                        continue;
                    }
                    if (e.Seq != last + 1)
                    {
                        break;
                    }
                    last = e.Seq;
                    yield return JobFeedItem.Of(e);
                    if (JobEventTypes.IsTerminal(e.Type))
                    {
                        yield break;
                    }
                }
            }
        }
        finally
        {
            if (subscription is not null)
            {
                try
                {
                    await subscription.UnsubscribeAsync();
                }
                catch (Exception ex)
                {
                    LogUnsubscribeFailed(logger, ex, jobId);
                }
            }
        }
    }

    /// <summary>
    /// A <c>page.completed</c> from the tail (which keeps no results) gets the page's results the live event carried, so a
    /// client sees them whichever way the event reached it. Best effort: without them the event is still right.
    /// </summary>
    private async Task<JobEvent> WithPageResultsAsync(ISearchJobGrain job, string user, JobEvent e)
    {
        if (e is not { Type: JobEventTypes.PageCompleted, Results: null, QueryIndex: { } index, Page: { } page, ResultCount: > 0 })
        {
            return e;
        }
        try
        {
            return await job.GetPageResultsAsync(user, index, page) is { Count: > 0 } results ? e with { Results = results } : e;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogPageResultsFailed(logger, ex, e.JobId, index, page);
            return e;
        }
    }

    /// <summary>Whether event <paramref name="seq"/> is the job's terminal event (so a client that has it has everything).</summary>
    private static async Task<bool> HasTerminalEventAsync(ISearchJobGrain job, string user, long seq) =>
        seq > 0 && await job.GetEventsAsync(user, seq - 1) is { } page
        && page.Events.FirstOrDefault() is { } e && e.Seq == seq && JobEventTypes.IsTerminal(e.Type);

    /// <summary>The next live event, or null when none came within the poll interval.</summary>
    private static async Task<JobEvent?> NextLiveAsync(ChannelReader<JobEvent> reader, CancellationToken cancellationToken)
    {
        if (reader.TryRead(out var ready))
        {
            return ready;
        }
        try
        {
            await reader.WaitToReadAsync(cancellationToken).AsTask().WaitAsync(PollInterval, cancellationToken);
        }
        catch (TimeoutException)
        {
            return null;
        }
        return reader.TryRead(out var e) ? e : null;
    }

    private async Task<StreamSubscriptionHandle<JobEvent>?> SubscribeAsync(string jobId, ChannelWriter<JobEvent> writer)
    {
        try
        {
            var stream = cluster.GetStreamProvider(SearchStreams.ProviderName).GetStream<JobEvent>(SearchStreams.ForJob(jobId));
            return await stream.SubscribeAsync((e, _) =>
            {
                writer.TryWrite(e);
                return Task.CompletedTask;
            });
        }
        catch (Exception ex)
        {
            // Still correct without the stream: the feed polls the job's tail.
            LogSubscribeFailed(logger, ex, jobId);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Unsubscribing from job {JobId} failed")]
    private static partial void LogUnsubscribeFailed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}: the results of query {QueryIndex} page {Page} could not be read for a replayed event")]
    private static partial void LogPageResultsFailed(ILogger logger, Exception exception, string jobId, int queryIndex, int page);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscribing to job {JobId} failed; following by polling")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception, string jobId);
}
