using System.Globalization;

namespace Orleans.Search.Fakes.Hostile;

/// <summary>A process's memory and CPU as Linux reports them in <c>/proc</c>.</summary>
/// <param name="RssBytes">Resident set size now (<c>VmRSS</c>).</param>
/// <param name="PeakRssBytes">The highest resident set size since the process started (<c>VmHWM</c>).</param>
/// <param name="CpuTime">User plus system CPU time of all its threads (<c>utime + stime</c>).</param>
public sealed record ProcessReading(long RssBytes, long PeakRssBytes, TimeSpan CpuTime)
{
    public static string Megabytes(long bytes) => (bytes / 1024.0 / 1024.0).ToString("0", CultureInfo.InvariantCulture) + " MB";
}

/// <summary>Reads <c>/proc/&lt;pid&gt;/status</c> and <c>/proc/&lt;pid&gt;/stat</c>, so a test or a benchmark can bound what another process costs.</summary>
public static class ProcessMeter
{
    // USER_HZ: the unit of utime and stime in /proc/<pid>/stat, 100 on every Linux ABI.
    private const double ClockTicksPerSecond = 100;

    /// <summary>The reading, or null if the process is gone (or this is not Linux).</summary>
    public static ProcessReading? Read(int pid)
    {
        try
        {
            var status = File.ReadAllLines($"/proc/{pid}/status");
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return new ProcessReading(Kilobytes(status, "VmRSS:") * 1024, Kilobytes(status, "VmHWM:") * 1024, TimeSpan.FromSeconds(ticks / ClockTicksPerSecond));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static long Kilobytes(string[] status, string key)
    {
        var line = status.FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal)) ?? throw new FormatException($"no {key} in /proc status");
        return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// Watches a process from outside: samples its RSS, and kills it if it passes <c>killAboveBytes</c>, so a runaway
/// (an exponential automaton, an unbounded buffer) fails the run instead of taking the machine down with it.
/// </summary>
public sealed class ProcessWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _maxRssBytes;

    public ProcessWatch(int pid, long killAboveBytes, Action kill, TimeSpan? interval = null)
    {
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                if (ProcessMeter.Read(pid) is { } reading)
                {
                    InterlockedMax(ref _maxRssBytes, Math.Max(reading.RssBytes, reading.PeakRssBytes));
                    if (reading.RssBytes > killAboveBytes && KilledAt is null)
                    {
                        KilledAt = DateTimeOffset.UtcNow;
                        kill();
                    }
                }
                try
                {
                    await Task.Delay(interval ?? TimeSpan.FromMilliseconds(100), _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
    }

    /// <summary>The highest RSS seen (sampled, or VmHWM when read).</summary>
    public long MaxRssBytes => Interlocked.Read(ref _maxRssBytes);

    /// <summary>When the watch killed the process for passing its bound; null if it did not.</summary>
    public DateTimeOffset? KilledAt { get; private set; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }
}
