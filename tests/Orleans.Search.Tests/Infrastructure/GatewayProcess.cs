namespace Orleans.Search.Tests.Infrastructure;

/// <summary>The gateway as a separate OS process (embedded silo or Orleans client), so a test can SIGKILL it and start it again.</summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly ServiceProcess _process;

    private GatewayProcess(ServiceProcess process) => _process = process;

    public Uri BaseAddress => _process.BaseAddress;

    public string Output => _process.Output;

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.ProcessId;

    /// <summary>"running", or how it ended, for failure messages.</summary>
    public string State => _process.State;

    /// <summary>Starts the gateway DLL with settings as environment variables and waits until /readyz answers 200.</summary>
    public static async Task<GatewayProcess> StartAsync(string workingDirectory, int httpPort, IDictionary<string, string> settings)
    {
        var gateway = new GatewayProcess(ServiceProcess.Start("gateway", "Orleans.Search.Gateway.dll", workingDirectory, httpPort, settings));
        try
        {
            await gateway._process.WaitUntilReadyAsync("/readyz");
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
        return gateway;
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing; what was not durable is gone.</summary>
    public void Kill() => _process.Kill();

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}

public static class GatewayProcessExtensions
{
    /// <summary>A fresh client for the process's address.</summary>
    public static HttpClient Http(this GatewayProcess gateway) => new() { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
}
