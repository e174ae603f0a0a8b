namespace Orleans.Search.Storage;

/// <summary>
/// Serializes writes of one grain's state. Background work in a grain interleaves with its calls at every
/// await, and two overlapping <c>WriteStateAsync</c> calls would race on the ETag.
/// </summary>
public sealed class StateWriteGate<T>(IPersistentState<T> state)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task WriteAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await state.WriteStateAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task ClearAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await state.ClearStateAsync();
        }
        finally
        {
            _gate.Release();
        }
    }
}
