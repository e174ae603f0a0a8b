using Orleans.Storage;

namespace Orleans.Search.Storage;

/// <summary>
/// Serializes writes of one grain's state: background work in a grain interleaves with its calls at every
/// await, and two overlapping <c>WriteStateAsync</c> calls would race on the ETag. Background writes can ride out
/// a database outage: they retry with backoff for up to <see cref="OutageTolerance"/>.
/// </summary>
public sealed class StateWriteGate<T>(IPersistentState<T> state, ILogger? logger = null, TimeProvider? time = null)
{
    /// <summary>How long a retrying write keeps trying before it gives up.</summary>
    public static readonly TimeSpan OutageTolerance = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Writes once; a failure goes to the caller (request paths answer it, e.g. with 503).</summary>
    public Task WriteAsync() => GatedAsync(() => state.WriteStateAsync());

    /// <summary>Writes, retrying transient storage failures with backoff (background paths: checkpoints, coalesced writes).</summary>
    public Task WriteRetryingAsync(CancellationToken cancellationToken = default) => GatedAsync(async () =>
    {
        var started = _time.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await state.WriteStateAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is not InconsistentStateException && !cancellationToken.IsCancellationRequested
                && _time.GetElapsedTime(started) < OutageTolerance)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(attempt, 10))));
                logger?.LogWarning("Writing state failed (attempt {Attempt}): {Error}; retrying in {Delay}", attempt, ex.Message, delay);
                await Task.Delay(delay, _time, cancellationToken);
            }
        }
    });

    public Task ClearAsync() => GatedAsync(() => state.ClearStateAsync());

    private async Task GatedAsync(Func<Task> write)
    {
        await _gate.WaitAsync();
        try
        {
            await write();
        }
        finally
        {
            _gate.Release();
        }
    }
}
