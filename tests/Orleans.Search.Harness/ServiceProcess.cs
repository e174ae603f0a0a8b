using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.Search.Harness;

/// <summary>
/// One of our service DLLs (gateway or silo) as its own OS process on loopback: settings as environment variables,
/// console output kept for failure messages, and SIGKILL on demand (no shutdown hooks, nothing flushed).
/// HTTP listens on 127.0.0.1 port 0; the port Kestrel bound is read from the process's own "Now listening on" line,
/// so no port is picked, released and then bound by someone else.
/// </summary>
public sealed partial class ServiceProcess : IAsyncDisposable
{
    private const int MaxOutputChars = 20_000_000;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServiceProcess(Process process, string name)
    {
        _process = process;
        Name = name;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    /// <summary>The HTTP address the process bound; known once it has started listening (after <see cref="WaitUntilReadyAsync"/>).</summary>
    public Uri BaseAddress => _listening.Task.IsCompletedSuccessfully
        ? _listening.Task.Result
        : throw new InvalidOperationException($"The {Name} has not said where it listens yet.");

    /// <summary>The OS process id, to read its memory and CPU from /proc.</summary>
    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Total CPU time the process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>"running", or how it ended, for failure messages.</summary>
    public string State => _process.HasExited ? $"exited with {_process.ExitCode}" : "running";

    /// <summary>Exited because a port it was given was taken in the meantime: worth starting again on fresh ports.</summary>
    public bool FailedToBind => _process.HasExited && Output.Contains("Address already in use", StringComparison.Ordinal);

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

    /// <summary>Starts <paramref name="dll"/> (in the caller's bin folder) serving HTTP on 127.0.0.1 at a port of its own choosing.</summary>
    public static ServiceProcess Start(string name, string dll, string workingDirectory, IEnumerable<KeyValuePair<string, string>> settings)
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
        start.ArgumentList.Add("http://127.0.0.1:0");
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__")] = value;
        }
        // The bound address is read from this category's "Now listening on" line, whatever the test's log levels.
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        return new ServiceProcess(process, name);
    }

    /// <summary>
    /// Starts a process, and starts it again (with fresh <paramref name="settings"/>) when it exits because a port it
    /// was given got taken between being picked and being bound.
    /// </summary>
    public static async Task<T> StartRetryingBindAsync<T>(Func<T> start, Func<T, ServiceProcess> process, Func<T, Task> waitUntilReady)
        where T : IAsyncDisposable
    {
        for (var attempt = 1; ; attempt++)
        {
            var started = start();
            try
            {
                await waitUntilReady(started);
                return started;
            }
            catch (Exception) when (attempt < 3 && process(started).FailedToBind)
            {
                await started.DisposeAsync();
            }
            catch
            {
                await started.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Waits until <paramref name="path"/> answers 2xx and <paramref name="ready"/> (if any) holds; fails if the process exits.</summary>
    public async Task WaitUntilReadyAsync(string path, Func<Task<bool>>? ready = null)
    {
        var deadline = DateTime.UtcNow + ReadyTimeout;
        var exited = _process.WaitForExitAsync();
        if (await Task.WhenAny(_listening.Task, exited, Task.Delay(ReadyTimeout)) != _listening.Task)
        {
            throw _process.HasExited
                ? new InvalidOperationException($"The {Name} exited with {_process.ExitCode} before it was ready:\n{Output}")
                : new TimeoutException($"The {Name} did not say where it listens within {ReadyTimeout.TotalSeconds:0} s:\n{Output}");
        }
        var address = await _listening.Task;
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
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
                throw new TimeoutException($"The {Name} was not ready within {ReadyTimeout.TotalSeconds:0} s:\n{Output}");
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

    /// <summary>SIGTERM and wait: the host shuts down cleanly, so everything it logged has reached <see cref="Output"/>.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }
        using (var signal = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) } }))
        {
            await signal!.WaitForExitAsync();
        }
        using var deadline = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(deadline.Token);
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

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            // A long benchmark run logs a lot; what a failure message needs is well within this.
            if (_output.Length < MaxOutputChars)
            {
                _output.AppendLine(line);
            }
        }
        if (!_listening.Task.IsCompleted && ListeningLine().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value.TrimEnd('/')));
        }
    }
}
