using Orleans.Storage;

namespace Orleans.Search.Storage;

/// <summary>
/// Serializes writes of one grain's state: background work in a grain interleaves with its calls at every
/// await, and two overlapping <c>WriteStateAsync</c> calls would race on the ETag. Background writes can ride out
/// a database outage: they retry with backoff for up to <see cref="OutageTolerance"/>.
/// </summary>
public sealed class StateWriteGate<T>(IPersistentState<T> state, ILogger? logger = null, TimeProvider? time = null, Func<TimeSpan>? outageTolerance = null)
{
    /// <summary>How long a retrying write keeps trying before it gives up, unless the owner says otherwise.</summary>
    public static readonly TimeSpan OutageTolerance = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>A retrying write that is waiting for the gate and has not started (and its ticket): later callers share it.</summary>
    private Task? _queued;
    private object? _queuedTicket;

    /// <summary>Writes once; a failure goes to the caller (request paths answer it, e.g. with 503).</summary>
    public Task WriteAsync() => GatedAsync(() => state.WriteStateAsync());

    /// <summary>
    /// Writes, retrying transient storage failures with backoff (background paths: checkpoints, coalesced writes).
    /// Callers that arrive while another retrying write is still waiting for the gate share that write: it has not
    /// started, so it will store their changes too, and each caller still returns only once its changes are durable.
    /// Ten pages finishing during one write cost one more write, not ten. Grain code only (one thread at a time).
    /// </summary>
    public Task WriteRetryingAsync(CancellationToken cancellationToken = default)
    {
        if (_queued is { } queued)
        {
            return queued;
        }
        var ticket = new object();
        _queuedTicket = ticket;
        var write = WriteRetryingCoreAsync(ticket, cancellationToken);
        if (ReferenceEquals(_queuedTicket, ticket))
        {
            // Still waiting for the gate (it did not start synchronously).
            _queued = write;
        }
        return write;
    }

    private async Task WriteRetryingCoreAsync(object ticket, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync();
        // From here on this write may read the state at any moment: later changes need a write of their own.
        if (ReferenceEquals(_queuedTicket, ticket))
        {
            _queuedTicket = null;
            _queued = null;
        }
        try
        {
            await WriteWithRetriesAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task WriteWithRetriesAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var tolerance = outageTolerance?.Invoke() ?? OutageTolerance;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await state.WriteStateAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is not InconsistentStateException && !cancellationToken.IsCancellationRequested
                && _time.GetElapsedTime(started) < tolerance)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(attempt, 10))));
                if (logger is not null)
                {
                    StateWriteLog.WriteRetrying(logger, ex, attempt, delay);
                }
                await Task.Delay(delay, _time, cancellationToken);
            }
        }
    }

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

internal static partial class StateWriteLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing state failed (attempt {Attempt}); retrying in {Delay}")]
    public static partial void WriteRetrying(ILogger logger, Exception exception, int attempt, TimeSpan delay);
}
