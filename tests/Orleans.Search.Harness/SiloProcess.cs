namespace Orleans.Search.Harness;

/// <summary>
/// A standalone silo (Orleans.Search.Silo.dll) as a separate OS process, so a test can SIGKILL it.
/// Ready means /healthz answers and <c>joined</c> (for example "my row in the membership table is Active") holds.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly ServiceProcess _process;

    private SiloProcess(ServiceProcess process, int siloPort, int gatewayPort)
    {
        _process = process;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
    }

    public Uri BaseAddress => _process.BaseAddress;

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>"running", or how it ended, for failure messages.</summary>
    public string State => _process.State;

    public string Output => _process.Output;

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "Orleans.Search.Silo.dll");

    /// <summary>
    /// Starts the silo DLL with settings as environment variables; silo and gateway ports are chosen here (loopback
    /// only), and chosen again if one was taken before the silo could bind it.
    /// </summary>
    public static Task<SiloProcess> StartAsync(string workingDirectory, IDictionary<string, string> settings, Func<SiloProcess, Task<bool>> joined) =>
        ServiceProcess.StartRetryingBindAsync(
            () =>
            {
                var siloPort = Loopback.FreePort();
                var gatewayPort = Loopback.FreePort();
                var environment = new Dictionary<string, string>(settings)
                {
                    ["Cluster:SiloPort"] = siloPort.ToString(),
                    ["Cluster:GatewayPort"] = gatewayPort.ToString(),
                    ["Logging:Console:TimestampFormat"] = "HH:mm:ss.fff ",
                    // What the silo does about dead silos and resumed jobs is worth seeing when a test fails.
                    ["Logging:LogLevel:Orleans.Search"] = "Information",
                };
                return new SiloProcess(ServiceProcess.Start("silo", "Orleans.Search.Silo.dll", workingDirectory, environment), siloPort, gatewayPort);
            },
            silo => silo._process,
            silo => silo._process.WaitUntilReadyAsync("/healthz", () => joined(silo)));

    /// <summary>SIGKILL: no shutdown, no leaving the cluster; the others must notice on their own.</summary>
    public void Kill() => _process.Kill();

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
