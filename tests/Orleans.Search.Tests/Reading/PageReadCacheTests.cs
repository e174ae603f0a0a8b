using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Fakes;
using Orleans.Search.Reading;
using Microsoft.Extensions.Configuration;
using Orleans.Search.Silo.Hosting;
using Orleans.Search.Tests.Infrastructure;
using Orleans.TestingHost;

namespace Orleans.Search.Tests.Reading;

/// <summary>
/// The silo's <see cref="IPageReader"/> (registered by the silo's own service registration) keeps each URL's read in
/// its own row: the same URL read again within the TTL is not fetched, also by a new cluster on the same database
/// (a read stage re-run after a crash).
/// </summary>
public sealed class PageReadCacheTests
{
    [Fact]
    public async Task A_second_read_of_a_url_is_served_from_the_cache_even_after_the_cluster_restarts()
    {
        using var database = new TempDatabase();
        await using var site = await FakeSite.StartAsync();
        site.Serve("/page", FakeSitePage.Html("<html><head><title>Cached page</title></head><body><p>Text worth keeping, read once.</p></body></html>"));
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Orleans"] = database.ConnectionString,
            ["Net:AllowHosts:0"] = "127.0.0.1",
        };

        PageRead first, second, differentlyWritten, missing1, missing2;
        await using (var cluster = Cluster(settings))
        {
            await cluster.DeployAsync();
            var reader = cluster.Silos[0].ServiceProvider.GetRequiredService<IPageReader>();
            first = await reader.ReadAsync(site.Url("/page"), CancellationToken.None);
            second = await reader.ReadAsync(site.Url("/page"), CancellationToken.None);
            differentlyWritten = await reader.ReadAsync(site.Url("/page").Replace("127.0.0.1", "127.0.0.1".ToUpperInvariant()) + "#section", CancellationToken.None);
            missing1 = await reader.ReadAsync(site.Url("/missing"), CancellationToken.None);
            missing2 = await reader.ReadAsync(site.Url("/missing"), CancellationToken.None);
            await cluster.StopAllSilosAsync();
        }

        PageRead afterRestart;
        await using (var cluster = Cluster(settings))
        {
            await cluster.DeployAsync();
            var reader = cluster.Silos[0].ServiceProvider.GetRequiredService<IPageReader>();
            afterRestart = await reader.ReadAsync(site.Url("/page"), CancellationToken.None);
            await cluster.StopAllSilosAsync();
        }

        Assert.Equal(PageReadStatuses.Read, first.Status);
        Assert.False(first.Cached);
        Assert.True(second.Cached);
        Assert.True(differentlyWritten.Cached);
        Assert.True(afterRestart.Cached);
        Assert.Equal(first.Text, afterRestart.Text);
        Assert.Equal("Cached page", afterRestart.Title);
        Assert.Equal(1, site.RequestsFor("/page"));
        // A failure is not kept: it may not last.
        Assert.Equal(PageReadStatuses.Failed, missing2.Status);
        Assert.False(missing1.Cached || missing2.Cached);
        Assert.Equal(2, site.RequestsFor("/missing"));
    }

    /// <summary>One silo; the same service id every time, as a restarted deployment has (grain rows are keyed by it).</summary>
    private static InProcessTestCluster Cluster(Dictionary<string, string?> settings)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ServiceId = "read-cache-test";
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(settings));
        builder.ConfigureSilo((_, silo) => silo.AddSearchSilo(silo.Configuration));
        return builder.Build();
    }
}
