using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Orleans.Search.Bench;

/// <summary>The service as it runs for real: the gateway DLL in its own process (embedded silo, SQLite), settings as environment variables.</summary>
public sealed class GatewayChild : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayChild(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Total CPU time the gateway process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>
    /// CPU time so far of each live thread of the gateway, by thread id with its name (Linux: <c>/proc/PID/task</c>; empty
    /// elsewhere). The runtime names its own threads: ".NET Tiered Com" compiles methods again at a higher tier, ".NET
    /// Server GC" and ".NET BGC" collect garbage, so a run's CPU can be split into the service's work, the JIT and the GC.
    /// </summary>
    public IReadOnlyDictionary<int, (string Name, TimeSpan Cpu)> ThreadCpu()
    {
        var threads = new Dictionary<int, (string, TimeSpan)>();
        var tasks = $"/proc/{_process.Id}/task";
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
    /// How much of the CPU between two <see cref="ThreadCpu"/> readings went to the JIT's background compiler and to the
    /// GC threads. A thread that ended in between is lost to both (its CPU still counts in <see cref="CpuTime"/>).
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

    public static async Task<GatewayChild> StartAsync(string workingDirectory, IDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Orleans.Search.Gateway.dll");
        var httpPort = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{httpPort}");
        var all = new Dictionary<string, string>(settings)
        {
            ["Cluster:SiloPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cluster:GatewayPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        foreach (var (key, value) in all)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var gateway = new GatewayChild(process, new Uri($"http://127.0.0.1:{httpPort}"));
        await gateway.WaitUntilReadyAsync(cancellationToken);
        return gateway;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The gateway exited with {_process.ExitCode} before it was ready:\n{Output}");
            }
            try
            {
                using var response = await http.GetAsync("/readyz", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The gateway was not ready within 90 s:\n{Output}");
            }
            await Task.Delay(100, cancellationToken);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            if (_output.Length < 20_000_000)
            {
                _output.AppendLine(line);
            }
        }
    }
}
