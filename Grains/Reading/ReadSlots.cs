using System.Collections.Concurrent;

namespace Orleans.Search.Reading;

/// <summary>
/// Politeness and load for one silo's reads: at most <see cref="ReadOptions.PerHostConcurrency"/> requests to a host
/// at once, and at most <see cref="ReadOptions.MaxConcurrency"/> reads in all. A host with a <c>Crawl-delay</c> is read
/// one request at a time, each starting the delay after the previous one ended: spacing only the starts would let a
/// slow previous request arrive late and its successor early, closer together than the host asked.
/// The host slot is taken first, so a read waiting for a busy host does not hold one of the shared slots.
/// </summary>
public sealed class ReadSlots(IOptions<ReadOptions> options, TimeProvider time)
{
    private const int PruneAbove = 4096;
    private readonly SemaphoreSlim _all = new(options.Value.MaxConcurrency, options.Value.MaxConcurrency);
    private readonly ConcurrentDictionary<string, HostGate> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly int _perHost = options.Value.PerHostConcurrency;

    /// <summary>Waits for a slot for <paramref name="host"/> (and its crawl delay), then for a shared slot.</summary>
    public async Task<IDisposable> AcquireAsync(string host, TimeSpan? crawlDelay, CancellationToken cancellationToken)
    {
        var gate = _hosts.GetOrAdd(host, _ => new HostGate(_perHost));
        Interlocked.Increment(ref gate.Users);
        try
        {
            await gate.Slots.WaitAsync(cancellationToken);
            try
            {
                TimeSpan? spacing = crawlDelay is { } delay && delay > TimeSpan.Zero ? delay : null;
                if (spacing is not null)
                {
                    await gate.OneAtATime.WaitAsync(cancellationToken);
                    try
                    {
                        var now = time.GetUtcNow();
                        DateTimeOffset start;
                        lock (gate)
                        {
                            start = gate.NextStart;
                        }
                        if (start > now)
                        {
                            await Task.Delay(start - now, time, cancellationToken);
                        }
                        await _all.WaitAsync(cancellationToken);
                    }
                    catch
                    {
                        gate.OneAtATime.Release();
                        throw;
                    }
                }
                else
                {
                    await _all.WaitAsync(cancellationToken);
                }
                return new Lease(this, gate, spacing);
            }
            catch
            {
                gate.Slots.Release();
                throw;
            }
        }
        catch
        {
            Interlocked.Decrement(ref gate.Users);
            throw;
        }
    }

    private void Release(HostGate gate, TimeSpan? spacing)
    {
        _all.Release();
        if (spacing is { } delay)
        {
            lock (gate)
            {
                gate.NextStart = time.GetUtcNow() + delay;
            }
            gate.OneAtATime.Release();
        }
        gate.Slots.Release();
        Interlocked.Decrement(ref gate.Users);
        gate.LastUsed = time.GetUtcNow();
        if (_hosts.Count > PruneAbove)
        {
            // Forget idle hosts whose crawl delay has passed; a gate in use is kept.
            var now = time.GetUtcNow();
            foreach (var (key, idle) in _hosts)
            {
                if (Volatile.Read(ref idle.Users) == 0 && idle.NextStart < now && idle.LastUsed < now - TimeSpan.FromMinutes(1))
                {
                    _hosts.TryRemove(new KeyValuePair<string, HostGate>(key, idle));
                }
            }
        }
    }

    private sealed class HostGate(int slots)
    {
        public readonly SemaphoreSlim Slots = new(slots, slots);
        public readonly SemaphoreSlim OneAtATime = new(1, 1);
        public int Users;
        public DateTimeOffset NextStart;
        public DateTimeOffset LastUsed;
    }

    private sealed class Lease(ReadSlots owner, HostGate gate, TimeSpan? spacing) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(gate, spacing);
            }
        }
    }
}
