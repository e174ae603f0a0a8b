namespace Orleans.Search.Silo.Storage;

/// <summary>
/// Group commit: writes that arrive while one transaction runs (or waits for its turn) share the next one, so a burst
/// of writes costs a few commits (and fsyncs) rather than one each. Every caller is answered only once the transaction
/// that holds its write has committed; a transaction that fails fails every caller in it (each caller retries or
/// reports as it would after its own failed write). One drain runs at a time, off the callers' schedulers.
/// </summary>
/// <param name="takeTurn">Runs one transaction when the database lets this process write (SQLite: the silo's write lock).</param>
/// <param name="commit">Writes a batch in one transaction and returns each item's result, in order; throws if it did not commit.</param>
/// <param name="maxBatch">Items in one transaction at most: a huge burst is split rather than held in one long write.</param>
internal sealed class GroupCommit<TItem, TResult>(
    Func<Func<Task<bool>>, Task<bool>> takeTurn,
    Func<IReadOnlyList<TItem>, Task<TResult[]>> commit,
    int maxBatch)
{
    private readonly Lock _queueLock = new();
    private List<Queued> _queued = [];
    private bool _draining;
    private long _commits;
    private long _items;

    /// <summary>Transactions committed so far.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Items committed so far (÷ <see cref="Commits"/>: how many writes a commit carried on average).</summary>
    public long Items => Interlocked.Read(ref _items);

    /// <summary>
    /// Queues <paramref name="item"/> for the next transaction. No cancellation: the item may share a transaction with
    /// other callers' items, which one caller's cancellation must not abort.
    /// </summary>
    public Task<TResult> EnqueueAsync(TItem item)
    {
        var queued = new Queued(item);
        bool drain;
        lock (_queueLock)
        {
            _queued.Add(queued);
            drain = !_draining;
            _draining = true;
        }
        if (drain)
        {
            // Off the caller's scheduler (a grain's): the commits are nobody's turn.
            _ = Task.Run(DrainAsync, CancellationToken.None);
        }
        return queued.Result.Task;
    }

    /// <summary>Commits what is queued, batch after batch, until the queue is empty.</summary>
    private async Task DrainAsync()
    {
        while (true)
        {
            try
            {
                await takeTurn(CommitQueuedAsync);
            }
            catch (Exception ex)
            {
                // The turn itself failed (CommitQueuedAsync answers its own batch): fail whatever is still queued.
                foreach (var queued in TakeQueued(int.MaxValue))
                {
                    queued.Result.TrySetException(ex);
                }
            }
            lock (_queueLock)
            {
                if (_queued.Count == 0)
                {
                    _draining = false;
                    return;
                }
            }
        }
    }

    /// <summary>Takes the queue as it is when the turn has come, and commits it in one transaction.</summary>
    private async Task<bool> CommitQueuedAsync()
    {
        var batch = TakeQueued(maxBatch);
        if (batch.Count == 0)
        {
            return false;
        }
        TResult[] results;
        try
        {
            results = await commit(batch.ConvertAll(q => q.Item));
        }
        catch (Exception ex)
        {
            foreach (var queued in batch)
            {
                queued.Result.TrySetException(ex);
            }
            return false;
        }
        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _items, batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Result.TrySetResult(results[i]);
        }
        return true;
    }

    private List<Queued> TakeQueued(int max)
    {
        lock (_queueLock)
        {
            if (_queued.Count <= max)
            {
                var all = _queued;
                _queued = [];
                return all;
            }
            var some = _queued.GetRange(0, max);
            _queued.RemoveRange(0, max);
            return some;
        }
    }

    private sealed class Queued(TItem item)
    {
        public TItem Item { get; } = item;

        public TaskCompletionSource<TResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
