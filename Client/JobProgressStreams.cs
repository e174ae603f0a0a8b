using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Orleans.Hosting;
using Orleans.Search.Jobs;
using Orleans.Streams;

namespace Orleans.Search.Client;

/// <summary>
/// For services inside the cluster (an Orleans client or a grain's silo): follow a job on its Orleans progress stream
/// directly, without the HTTP gateway.
/// </summary>
public static class JobProgressStreams
{
    /// <summary>How long the stream may stay quiet before the job's tail is read anyway (a lost stream message, say).</summary>
    public static readonly TimeSpan DefaultQuietPoll = TimeSpan.FromSeconds(5);

    /// <summary>Registers the progress stream provider the silos publish on, so <see cref="FollowJobAsync"/> can subscribe.</summary>
    public static IClientBuilder AddSearchProgressStreams(this IClientBuilder client) =>
        client.AddMemoryStreams(SearchStreams.ProviderName);

    /// <summary>
    /// A job's events after <paramref name="afterSeq"/>, in order, each once, ending after the terminal one. It subscribes
    /// to the job's stream first and then reads the job's retained tail, so a follower that joins late gets the events
    /// published before it subscribed; live events are deduplicated by <see cref="JobEvent.Seq"/>, and a gap in them (a lost
    /// message) or a quiet spell of <paramref name="quietPoll"/> is filled from the tail. Events the tail no longer retains
    /// cannot be had; the first event yielded may then be later than <paramref name="afterSeq"/> + 1. <paramref name="owner"/>
    /// is the user id that owns the job: a job answers only its owner.
    /// </summary>
    /// <exception cref="KeyNotFoundException">There is no such job for <paramref name="owner"/>.</exception>
    public static async IAsyncEnumerable<JobEvent> FollowJobAsync(this IClusterClient client, string jobId, string owner, long afterSeq = 0,
        TimeSpan? quietPoll = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var poll = quietPoll ?? DefaultQuietPoll;
        var job = client.GetGrain<ISearchJobGrain>(jobId);
        var live = Channel.CreateUnbounded<JobEvent>(new UnboundedChannelOptions { SingleReader = true });
        var stream = client.GetStreamProvider(SearchStreams.ProviderName).GetStream<JobEvent>(SearchStreams.ForJob(jobId));
        // Subscribed before the tail is read, so no event falls between the two.
        var subscription = await stream.SubscribeAsync((e, _) => live.Writer.WriteAsync(e, cancellationToken).AsTask());
        try
        {
            var last = afterSeq;
            while (true)
            {
                var page = await job.GetEventsAsync(owner, last)
                    ?? throw new KeyNotFoundException($"No job '{jobId}' of '{owner}' was found.");
                foreach (var e in page.Events.Where(e => e.Seq > last).OrderBy(e => e.Seq))
                {
                    last = e.Seq;
                    yield return e;
                    if (JobEventTypes.IsTerminal(e.Type))
                    {
                        yield break;
                    }
                }
                if (JobStates.IsTerminal(page.Status) && page.Events.Count == 0)
                {
                    // Ended, and its terminal event is no longer in the tail (or was before afterSeq): nothing more will come.
                    yield break;
                }

                // Live events while they follow on from the last one; a gap or a quiet spell goes back to the tail.
                while (true)
                {
                    using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    quiet.CancelAfter(poll);
                    JobEvent e;
                    try
                    {
                        e = await live.Reader.ReadAsync(quiet.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        break;
                    }
                    if (e.Seq <= last)
                    {
                        continue;
                    }
                    if (e.Seq != last + 1)
                    {
                        break;
                    }
                    last = e.Seq;
                    yield return e;
                    if (JobEventTypes.IsTerminal(e.Type))
                    {
                        yield break;
                    }
                }
            }
        }
        finally
        {
            live.Writer.TryComplete();
            try
            {
                await subscription.UnsubscribeAsync();
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                // The caller gave up; the subscription goes with the client or the stream's inactivity.
            }
        }
    }
}
