namespace Orleans.Search.Bench;

/// <summary>A child process's CPU split by thread, so a run's CPU reads as the service's work, the JIT's and the GC's.</summary>
public static class ThreadCpu
{
    /// <summary>
    /// CPU time so far of each live thread of the gateway, by thread id with its name (Linux: <c>/proc/PID/task</c>; empty
    /// elsewhere). The runtime names its own threads: ".NET Tiered Com" compiles methods again at a higher tier, ".NET
    /// Server GC" and ".NET BGC" collect garbage, so a run's CPU can be split into the service's work, the JIT and the GC.
    /// </summary>
    public static IReadOnlyDictionary<int, (string Name, TimeSpan Cpu)> Read(int processId)
    {
        var threads = new Dictionary<int, (string, TimeSpan)>();
        var tasks = $"/proc/{processId}/task";
        if (!Directory.Exists(tasks))
        {
            return threads;
        }
        var ticksPerSecond = 100.0; // USER_HZ on Linux
        foreach (var dir in Directory.EnumerateDirectories(tasks))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // pid (comm) state ... utime stime: the name can hold spaces and parentheses, so split after the last ')'.
                var open = stat.IndexOf('(');
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
                threads[int.Parse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture)] = (stat[(open + 1)..close], TimeSpan.FromSeconds(ticks / ticksPerSecond));
            }
            catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                // The thread ended while we read.
            }
        }
        return threads;
    }

    /// <summary>
    /// How much of the CPU between two <see cref="Read"/> readings went to the JIT's background compiler and to the
    /// GC threads. A thread that ended in between is lost to both (its CPU still counts in the process's CPU time).
    /// </summary>
    public static (TimeSpan Jit, TimeSpan Gc) RuntimeCpu(IReadOnlyDictionary<int, (string Name, TimeSpan Cpu)> before, IReadOnlyDictionary<int, (string Name, TimeSpan Cpu)> after)
    {
        var jit = TimeSpan.Zero;
        var gc = TimeSpan.Zero;
        foreach (var (tid, (name, cpu)) in after)
        {
            var delta = before.TryGetValue(tid, out var b) && b.Name == name ? cpu - b.Cpu : cpu;
            if (name.StartsWith(".NET Tiered Com", StringComparison.Ordinal))
            {
                jit += delta;
            }
            else if (name.StartsWith(".NET Server GC", StringComparison.Ordinal) || name.StartsWith(".NET BGC", StringComparison.Ordinal) || name.StartsWith(".NET GC", StringComparison.Ordinal))
            {
                gc += delta;
            }
        }
        return (jit, gc);
    }
}
