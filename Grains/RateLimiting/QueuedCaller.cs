namespace Orleans.Search.RateLimiting;

/// <summary>A caller waiting in a limiter grain's fair queue for its grant.</summary>
public sealed class QueuedCaller<TRequest, TGrant>(TRequest request)
{
    public TRequest Request { get; } = request;

    public TaskCompletionSource<TGrant> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Waits for the grant, at most <paramref name="maxWait"/> (well inside the call timeout), then leaves
    /// <paramref name="queue"/>. After the wait ran out the caller gets <paramref name="notGranted"/> ("ask again"); after
    /// a cancel the exception goes on. Either way a grant made in that same instant is not lost: a timed-out caller takes
    /// it, and a cancelled one hands it back with <paramref name="giveBack"/>.
    /// </summary>
    public async Task<TGrant> WaitAsync(FairQueue<QueuedCaller<TRequest, TGrant>> queue, TimeSpan maxWait, TimeProvider time,
        Action giveBack, TGrant notGranted, CancellationToken cancellationToken)
    {
        try
        {
            return await Completion.Task.WaitAsync(maxWait, time, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            queue.Remove(w => ReferenceEquals(w, this));
            if (Completion.Task.IsCompletedSuccessfully)
            {
                if (ex is TimeoutException)
                {
                    return Completion.Task.Result;
                }
                giveBack();
            }
            if (ex is OperationCanceledException)
            {
                throw;
            }
            return notGranted;
        }
    }
}
