using System.Net;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace Orleans.Search.Silo.Hosting;

/// <summary>
/// How silos and clients find the cluster, from the <c>Cluster</c> section: the one home of membership (localhost or
/// ADO.NET), identity (cluster and service id) and what both sides must agree on (the progress stream provider, the
/// exceptions that cross grain calls, the dashboard).
/// </summary>
public static class SearchClustering
{
    /// <summary>Clustering, identity and endpoints of a silo.</summary>
    public static ISiloBuilder UseSearchClustering(this ISiloBuilder silo, IConfiguration configuration)
    {
        var cluster = ClusterSettings.For(silo.Services, configuration);
        if (cluster.IsAdoNetMembership)
        {
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = cluster.Invariant;
                o.ConnectionString = cluster.ConnectionString;
            });
            silo.ConfigureEndpoints(IPAddress.Loopback, cluster.SiloPort, cluster.GatewayPort);
            // Declare a killed silo dead within a few seconds, so its jobs resume on a survivor quickly. The price:
            // a silo that stalls for ~3 s (a long GC pause, an overloaded host) can be voted out and must restart.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
                o.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(15);
            });
        }
        else
        {
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
        }
        silo.Configure<ClusterOptions>(cluster.ConfigureIdentity);
        return silo;
    }

    /// <summary>A client of the cluster (a gateway in <c>Cluster:Mode=client</c>): membership, identity and what it shares with silos.</summary>
    public static IClientBuilder UseSearchClustering(this IClientBuilder client, IConfiguration configuration)
    {
        var cluster = ClusterSettings.For(client.Services, configuration);
        if (cluster.IsAdoNetMembership)
        {
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = cluster.Invariant;
                o.ConnectionString = cluster.ConnectionString;
            });
        }
        else
        {
            client.UseLocalhostClustering(cluster.GatewayPort, cluster.ServiceId, cluster.ClusterId);
        }
        client.Configure<ClusterOptions>(cluster.ConfigureIdentity);
        client.Services.AddDatabaseExceptionSerialization();
        client.AddMemoryStreams(SearchStreams.ProviderName);
        // Notice new and dead silos' gateways quickly.
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
        if (OperationsExtensions.DashboardEnabled(configuration))
        {
            client.AddDashboard();
        }
        return client;
    }

    private static void ConfigureIdentity(this ClusterSettings cluster, ClusterOptions options)
    {
        options.ClusterId = cluster.ClusterId;
        options.ServiceId = cluster.ServiceId;
    }
}
