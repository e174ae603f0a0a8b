using System.Diagnostics;
using System.Text;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>How a run of the gateway program ended: its exit code (null if it was still serving), and what it wrote.</summary>
public sealed record CommandResult(int? ExitCode, string Output, string Error)
{
    public string All => Output + Error;

    public override string ToString() => $"exit code {ExitCode?.ToString() ?? "none (it was serving)"}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}

/// <summary>
/// Runs <c>Orleans.Search.Gateway.dll</c> as a command (arguments, environment, stdin) in a fresh folder and waits for it
/// to exit. If it starts serving instead (its /healthz answers on <c>127.0.0.1:port</c>), it is killed and the result
/// says so, so a test of a start that must be refused fails at once rather than at a deadline.
/// </summary>
public static class GatewayCommand
{
    public static async Task<CommandResult> RunAsync(IEnumerable<string> arguments, IDictionary<string, string>? environment = null,
        string? stdin = null, int? httpPort = null, TimeSpan? timeout = null)
    {
        using var folder = new TempDatabase();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = folder.Folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Orleans.Search.Gateway.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // If it does start, it must not collide with anything: its own database and Orleans ports.
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["ConnectionStrings__Orleans"] = folder.ConnectionString;
        start.Environment["Cluster__SiloPort"] = Loopback.FreePort().ToString();
        start.Environment["Cluster__GatewayPort"] = Loopback.FreePort().ToString();
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key.Replace(":", "__")] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(error, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }
        process.StandardInput.Close();

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (!process.HasExited)
        {
            if (DateTime.UtcNow > deadline || httpPort is { } port && await AnswersAsync(probe, port))
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                return new CommandResult(null, Text(output), Text(error));
            }
            await Task.WhenAny(process.WaitForExitAsync(), Task.Delay(200));
        }
        await process.WaitForExitAsync();
        return new CommandResult(process.ExitCode, Text(output), Text(error));
    }

    private static async Task<bool> AnswersAsync(HttpClient probe, int port)
    {
        try
        {
            using var response = await probe.GetAsync($"http://127.0.0.1:{port}/healthz");
            return true;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException)
        {
            return false;
        }
    }

    private static void Append(StringBuilder text, string? line)
    {
        if (line is not null)
        {
            lock (text)
            {
                text.AppendLine(line);
            }
        }
    }

    private static string Text(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }
}
