using System.Diagnostics;
using System.Text;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// One of our service DLLs (gateway or silo) as its own OS process on loopback: settings as environment variables,
/// console output kept for failure messages, and SIGKILL on demand (no shutdown hooks, nothing flushed).
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(Process process, string name, Uri baseAddress)
    {
        _process = process;
        Name = name;
        BaseAddress = baseAddress;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public Uri BaseAddress { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The OS process id, to read the process's memory from /proc.</summary>
    public int ProcessId => _process.Id;

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

    /// <summary>Starts <paramref name="dll"/> (in the test's bin folder) serving HTTP on 127.0.0.1:<paramref name="httpPort"/>.</summary>
    public static ServiceProcess Start(string name, string dll, string workingDirectory, int httpPort, IEnumerable<KeyValuePair<string, string>> settings)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{httpPort}");
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__")] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        return new ServiceProcess(process, name, new Uri($"http://127.0.0.1:{httpPort}"));
    }

    /// <summary>Waits until <paramref name="path"/> answers 2xx and <paramref name="ready"/> (if any) holds; fails if the process exits.</summary>
    public async Task WaitUntilReadyAsync(string path, Func<Task<bool>>? ready = null)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The {Name} exited with {_process.ExitCode} before it was ready:\n{Output}");
            }
            try
            {
                using var response = await http.GetAsync(path);
                if (response.IsSuccessStatusCode && (ready is null || await ready()))
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
                throw new TimeoutException($"The {Name} was not ready within 90 s:\n{Output}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: what was not durable is gone, and a silo does not leave the cluster: the others must notice.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public ValueTask DisposeAsync()
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
        return ValueTask.CompletedTask;
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
