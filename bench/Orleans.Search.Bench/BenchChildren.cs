using Orleans.Search.Harness;

namespace Orleans.Search.Bench;

/// <summary>The service as it runs for real, through the tests' harness: production environment, the limits' defaults.</summary>
public static class BenchChildren
{
    /// <summary>The gateway DLL in its own process (embedded silo unless told otherwise); HTTP limits as configured.</summary>
    public static Task<GatewayProcess> StartGatewayAsync(string workingDirectory, IDictionary<string, string> settings) =>
        GatewayProcess.StartAsync(workingDirectory, Production(settings), unthrottled: false);

    /// <summary>A standalone silo, ready once its membership row in <paramref name="database"/> is Active.</summary>
    public static Task<SiloProcess> StartSiloAsync(string workingDirectory, IDictionary<string, string> settings, PostgresDatabase database) =>
        SiloProcess.StartAsync(workingDirectory, Production(settings), silo => database.IsActiveAsync(silo.SiloPort));

    private static Dictionary<string, string> Production(IDictionary<string, string> settings)
    {
        var all = new Dictionary<string, string>(settings);
        all.TryAdd("DOTNET_ENVIRONMENT", "Production");
        all.TryAdd("ASPNETCORE_ENVIRONMENT", "Production");
        return all;
    }
}
