using System.Net;

namespace Orleans.Search.Tests.Cluster;

/// <summary><c>DELETE</c> on PostgreSQL (a silo process and a gateway in client mode): every row of the job goes.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresDeleteTests
{
    [Fact]
    public async Task Delete_leaves_no_row_naming_the_job_its_stream_registry_row_included()
    {
        await using var cluster = await PostgresCluster.CreateAsync();
        await cluster.StartSilosAsync(1);
        var gateway = await cluster.StartGatewayAsync();
        var jobId = await PostgresCluster.CreateJobAsync(gateway, TestJobs.UniqueQueries("pg-delete", 2), pages: 2);
        await Eventually.ReturnsAsync(() => PostgresCluster.TryGetJobAsync(gateway, jobId), s => s is not null && JobStates.IsTerminal(s.Status),
            "the job's end", TimeSpan.FromSeconds(60));
        await Eventually.ReturnsAsync(() => RowsAsync(cluster, $"GrainTypeString = 'PubSubRendezvousGrain' AND GrainIdExtensionString LIKE '%{jobId}'"),
            n => n == 1, "the job stream's registry row");
        Assert.True(await RowsNamingAsync(cluster, jobId) > 1, "the job's rows before the delete");

        using var http = gateway.Http();
        using var deleted = await http.DeleteAsync($"/api/search-jobs/{jobId}");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(0, await RowsNamingAsync(cluster, jobId));
    }

    /// <summary>Grain rows whose key or payload names the job (its own, its queries', its stream's registry, any other).</summary>
    private static Task<long> RowsNamingAsync(PostgresCluster cluster, string jobId) => RowsAsync(cluster,
        $"GrainIdExtensionString LIKE '%{jobId}%' OR position(convert_to('{jobId}', 'UTF8') in PayloadBinary) > 0");

    private static async Task<long> RowsAsync(PostgresCluster cluster, string condition) =>
        await cluster.Database.ScalarAsync<long>($"SELECT count(*) FROM OrleansStorage WHERE {condition}");
}
