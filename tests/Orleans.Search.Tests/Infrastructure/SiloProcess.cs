using System.Diagnostics;
using System.Text;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// A standalone silo (Orleans.Search.Silo.dll) as a separate OS process, so a test can SIGKILL it.
/// Ready means /healthz answers and <paramref name="joined"/> (for example "my row in the membership table is Active") holds.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SiloProcess(Process process, Uri baseAddress, int siloPort, int gatewayPort)
    {
        _process = process;
        BaseAddress = baseAddress;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>"running", or how it ended, for failure messages.</summary>
    public string State => _process.HasExited ? $"exited with {_process.ExitCode}" : "running";

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

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "Orleans.Search.Silo.dll");

    /// <summary>Starts the silo DLL with settings as environment variables; ports are chosen here (loopback only).</summary>
    public static async Task<SiloProcess> StartAsync(string workingDirectory, IDictionary<string, string> settings, Func<SiloProcess, Task<bool>> joined)
    {
        var httpPort = Loopback.FreePort();
        var siloPort = Loopback.FreePort();
        var gatewayPort = Loopback.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(DllPath);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{httpPort}");
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__")] = value;
        }
        start.Environment["Cluster__SiloPort"] = siloPort.ToString();
        start.Environment["Cluster__GatewayPort"] = gatewayPort.ToString();
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ";
        // What the silo does about dead silos and resumed jobs is worth seeing when a test fails.
        start.Environment["Logging__LogLevel__Orleans.Search"] = "Information";
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var silo = new SiloProcess(process, new Uri($"http://127.0.0.1:{httpPort}"), siloPort, gatewayPort);
        try
        {
            await silo.WaitUntilReadyAsync(joined);
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
        return silo;
    }

    /// <summary>SIGKILL: no shutdown, no leaving the cluster; the others must notice on their own.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        await Task.CompletedTask;
    }

    private async Task WaitUntilReadyAsync(Func<SiloProcess, Task<bool>> joined)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The silo exited with {_process.ExitCode} before it was ready:\n{Output}");
            }
            try
            {
                using var response = await http.GetAsync("/healthz");
                if (response.IsSuccessStatusCode && await joined(this))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The silo was not ready within 90 s:\n{Output}");
            }
            await Task.Delay(100);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
