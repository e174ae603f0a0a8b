using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Orleans.Search.Silo.Hosting;

namespace Orleans.Search.Gateway.Health;

/// <summary>Ready when a grain call round-trips through the cluster.</summary>
public sealed class ClusterHealthCheck(IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return hosts.Count > 0 ? HealthCheckResult.Healthy($"{hosts.Count} active silo(s)") : HealthCheckResult.Unhealthy("No active silo.");
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("The cluster is not reachable.", ex);
        }
    }
}

/// <summary>Ready when the configured database answers.</summary>
public sealed class StorageHealthCheck(ClusterSettings cluster) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using DbConnection connection = cluster.IsPostgres
                ? new NpgsqlConnection(cluster.ConnectionString)
                : new SqliteConnection(cluster.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy(cluster.Storage);
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy($"{cluster.Storage} is not reachable.", ex);
        }
    }
}
