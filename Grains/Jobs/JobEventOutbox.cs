using Orleans.Streams;

namespace Orleans.Search.Jobs;

/// <summary>
/// Events the job emitted and has not published yet, published in order on the job's stream. The stream is best
/// effort (subscribers catch up from the job's tail), so a failed publish is logged, never retried.
/// </summary>
public sealed class JobEventOutbox(IAsyncStream<JobEvent> stream, string jobId, ILogger logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Queue<JobEvent> _queue = new();

    public void Enqueue(JobEvent e) => _queue.Enqueue(e);

    /// <summary>Drops what is queued (a create that was not stored).</summary>
    public void Clear() => _queue.Clear();

    public async Task PublishAsync()
    {
        await _gate.WaitAsync();
        try
        {
            while (_queue.Count > 0)
            {
                // Everything queued goes out as one stream message: a report that completes ten pages costs one
                // enqueue, not ten round trips. Subscribers still receive the events one by one, in order.
                var batch = new List<JobEvent>(_queue.Count);
                while (_queue.TryDequeue(out var e))
                {
                    batch.Add(e);
                }
                try
                {
                    if (batch.Count == 1)
                    {
                        await stream.OnNextAsync(batch[0]);
                    }
                    else
                    {
                        await stream.OnNextBatchAsync(batch);
                    }
                }
                catch (Exception ex)
                {
                    logger.PublishFailed(ex, jobId, batch[0].Seq, batch[^1].Seq);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
