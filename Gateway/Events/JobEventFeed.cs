using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Orleans.Streams;

namespace Orleans.Search.Gateway.Events;

/// <summary>One item of a job's feed: the snapshot first, then events in sequence order.</summary>
public sealed record JobFeedItem(string Type, JobStatus? Snapshot, JobEvent? Event);

/// <summary>
/// Follows one job: a snapshot, then every retained event after the caller's last one, then live events.
/// The progress stream carries what happens next; the job's own tail fills any gap (a lost stream message,
/// a subscription made late, a resumed job), and is polled if the stream goes quiet. Ends after the terminal event.
/// </summary>
public sealed class JobEventFeed(IClusterClient cluster, ILogger<JobEventFeed> logger)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    public async IAsyncEnumerable<JobFeedItem> ReadAsync(string jobId, string user, long afterSeq, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var job = cluster.GetGrain<ISearchJobGrain>(jobId);
        var live = Channel.CreateUnbounded<JobEvent>(new UnboundedChannelOptions { SingleReader = true });
        // Subscribe before reading the tail, so nothing falls between the two.
        var subscription = await SubscribeAsync(jobId, live.Writer);
        try
        {
            var status = await job.GetStatusAsync(user, includeResults: false);
            if (status is null)
            {
                yield break;
            }
            yield return new JobFeedItem("snapshot", status, null);

            var last = afterSeq;
            while (!cancellationToken.IsCancellationRequested)
            {
                var page = await job.GetEventsAsync(user, last);
                if (page is null)
                {
                    yield break;
                }
                foreach (var e in page.Events)
                {
                    last = e.Seq;
                    yield return new JobFeedItem(e.Type, null, e);
                    if (JobEventTypes.IsTerminal(e.Type))
                    {
                        yield break;
                    }
                }
                if (JobStates.IsTerminal(page.Status))
                {
                    // The caller already had the terminal event.
                    yield break;
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
                    yield return new JobFeedItem(e.Type, null, e);
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
                    logger.LogDebug(ex, "Unsubscribing from job {JobId} failed", jobId);
                }
            }
        }
    }

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
            logger.LogWarning(ex, "Subscribing to job {JobId} failed; following by polling", jobId);
            return null;
        }
    }
}
