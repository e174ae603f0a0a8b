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

    /// <summary>A write that is waiting for the gate and has not started (and its ticket), by mode: later callers share it.</summary>
    private readonly Queued _queuedRetrying = new();
    private readonly Queued _queuedOnce = new();

    /// <summary>Writes once; a failure goes to the caller (request paths answer it, e.g. with 503).</summary>
    public Task WriteAsync() => GatedAsync(() => state.WriteStateAsync());

    /// <summary>
    /// Writes, retrying transient storage failures with backoff (background paths: checkpoints, coalesced writes).
    /// Callers that arrive while another retrying write is still waiting for the gate share that write: it has not
    /// started, so it will store their changes too, and each caller still returns only once its changes are durable.
    /// Ten pages finishing during one write cost one more write, not ten. Grain code only (one thread at a time).
    /// </summary>
    public Task WriteRetryingAsync(CancellationToken cancellationToken = default) => SharedAsync(_queuedRetrying, retrying: true, cancellationToken);

    /// <summary>
    /// Writes once, failing to the caller like <see cref="WriteAsync"/>, but shared like <see cref="WriteRetryingAsync"/>:
    /// callers that arrive while one such write waits for the gate ride on it (group commit within a grain whose
    /// calls interleave). A failure fails every caller that shared the write.
    /// </summary>
    public Task WriteSharedAsync() => SharedAsync(_queuedOnce, retrying: false, default);

    /// <summary>The newest write started or queued by <see cref="WriteSharedAsync"/> (completed once nothing is pending).</summary>
    public Task LastSharedWrite { get; private set; } = Task.CompletedTask;

    private Task SharedAsync(Queued queued, bool retrying, CancellationToken cancellationToken)
    {
        if (queued.Write is { } pending)
        {
            return pending;
        }
        var ticket = new object();
        queued.Ticket = ticket;
        var write = SharedCoreAsync(queued, ticket, retrying, cancellationToken);
        if (ReferenceEquals(queued.Ticket, ticket))
        {
            // Still waiting for the gate (it did not start synchronously).
            queued.Write = write;
        }
        if (!retrying)
        {
            LastSharedWrite = write;
        }
        return write;
    }

    private async Task SharedCoreAsync(Queued queued, object ticket, bool retrying, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync();
        // From here on this write may read the state at any moment: later changes need a write of their own.
        if (ReferenceEquals(queued.Ticket, ticket))
        {
            queued.Ticket = null;
            queued.Write = null;
        }
        try
        {
            if (retrying)
            {
                await WriteWithRetriesAsync(cancellationToken);
            }
            else
            {
                await state.WriteStateAsync();
            }
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

    private sealed class Queued
    {
        public Task? Write;
        public object? Ticket;
    }

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
