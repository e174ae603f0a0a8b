namespace Orleans.Search.Harness;

/// <summary>The gateway as a separate OS process (embedded silo or Orleans client), so a test can SIGKILL it and start it again.</summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly ServiceProcess _process;

    private GatewayProcess(ServiceProcess process) => _process = process;

    /// <summary>HTTP rate limits high enough that tests which poll are never throttled.</summary>
    public const string UnthrottledPermitsPerMinute = "1000000";

    public Uri BaseAddress => _process.BaseAddress;

    public string Output => _process.Output;

    /// <summary>The OS process id, to read its memory and CPU from /proc.</summary>
    public int ProcessId => _process.ProcessId;

    public bool HasExited => _process.HasExited;

    /// <summary>Total CPU time the gateway has used so far.</summary>
    public TimeSpan CpuTime => _process.CpuTime;

    /// <summary>"running", or how it ended, for failure messages.</summary>
    public string State => _process.State;

    /// <summary>
    /// Starts the gateway DLL with settings as environment variables and waits until /readyz answers 200. An embedded
    /// silo (no <c>Cluster:Mode=client</c>) gets fresh loopback silo and gateway ports unless the settings name them.
    /// Unless <paramref name="unthrottled"/> is false (a benchmark measuring the defaults), the HTTP rate limits not set
    /// are set high, so a caller that polls from one address is never throttled.
    /// </summary>
    public static Task<GatewayProcess> StartAsync(string workingDirectory, IDictionary<string, string> settings, bool unthrottled = true) =>
        ServiceProcess.StartRetryingBindAsync(
            () => new GatewayProcess(ServiceProcess.Start("gateway", "Orleans.Search.Gateway.dll", workingDirectory, WithPorts(settings, unthrottled))),
            gateway => gateway._process,
            gateway => gateway._process.WaitUntilReadyAsync("/readyz"));

    /// <summary>SIGKILL: no shutdown hooks, no flushing; what was not durable is gone.</summary>
    public void Kill() => _process.Kill();

    /// <summary>SIGTERM: a clean shutdown, after which <see cref="Output"/> holds everything the gateway logged.</summary>
    public Task StopAsync() => _process.StopAsync(TimeSpan.FromSeconds(30));

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static Dictionary<string, string> WithPorts(IDictionary<string, string> settings, bool unthrottled)
    {
        var withPorts = new Dictionary<string, string>(settings);
        if (unthrottled)
        {
            // Tests poll from one address; a test about the HTTP limits sets them low itself.
            withPorts.TryAdd("Http:PermitsPerMinute", UnthrottledPermitsPerMinute);
            withPorts.TryAdd("Http:PermitsPerMinutePerAddress", UnthrottledPermitsPerMinute);
        }
        if (!(settings.TryGetValue("Cluster:Mode", out var mode) && mode == "client"))
        {
            withPorts.TryAdd("Cluster:SiloPort", Loopback.FreePort().ToString());
            withPorts.TryAdd("Cluster:GatewayPort", Loopback.FreePort().ToString());
        }
        return withPorts;
    }
}

public static class GatewayProcessExtensions
{
    /// <summary>A fresh client for the process's address.</summary>
    public static HttpClient Http(this GatewayProcess gateway) => new() { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
}
