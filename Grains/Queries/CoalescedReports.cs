namespace Orleans.Search.Queries;

/// <summary>
/// A query's reports to its job: one send in flight at a time, and the requests made while it is in flight coalesce
/// into one more send (of the newest summary, which the send builds when it starts). Grain code only: one thread at a
/// time, interleaving at awaits.
/// </summary>
/// <remarks>
/// A grain call can complete before it is awaited (the job answered on another thread first), so a whole round of
/// sends may run synchronously inside <see cref="Request"/>. Such a round has ended before <see cref="Request"/> could
/// keep its task; kept, the finished task would look like a send in flight, and every later request would wait for it
/// forever (the job then heard of the query's end only from its stall check). The round clears its mark in its own
/// <c>finally</c>, in the same step that ends it: a wrapper that cleared it after awaiting the round would leave a
/// window in which a request finds a round that has already stopped sending.
/// </remarks>
public sealed class CoalescedReports(Func<Task> sendNewest)
{
    private Task? _sending;
    private bool _pending;

    /// <summary>A round of sends is running (it will send once more if a request came in meanwhile).</summary>
    public bool IsSending => _sending is not null;

    /// <summary>Asks for a send of the newest summary: now, or after the one in flight.</summary>
    public void Request()
    {
        _pending = true;
        if (_sending is not null)
        {
            return;
        }
        var round = SendWhilePendingAsync();
        _sending = round.IsCompleted ? null : round;
    }

    private async Task SendWhilePendingAsync()
    {
        try
        {
            while (_pending)
            {
                _pending = false;
                await sendNewest();
            }
        }
        finally
        {
            _sending = null;
        }
    }
}
