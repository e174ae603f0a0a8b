using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Search.Gateway.Extensions;

namespace Orleans.Search.Tests.Infrastructure;

/// <summary>
/// The real gateway (embedded silo, SQLite file, Kestrel on a loopback port) built in this process with
/// the same extension methods as Program.cs, so tests talk to it over real HTTP.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TempDatabase? _database;

    private GatewayHost(WebApplication app, TempDatabase? database, Uri baseAddress)
    {
        _app = app;
        _database = database;
        BaseAddress = baseAddress;
        Http = Client();
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>A new client of this gateway, sending <paramref name="key"/> (if any) as a Bearer token; the caller disposes it.</summary>
    public HttpClient Client(string? key = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }
        return client;
    }

    /// <summary>
    /// Starts a gateway; <paramref name="settings"/> override the test defaults (fresh database, free ports), and
    /// <paramref name="services"/> may add test-only services (a grain call filter that observes the silo, say).
    /// </summary>
    public static async Task<GatewayHost> StartAsync(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var database = new TempDatabase();
        for (var attempt = 1; ; attempt++)
        {
            // Kestrel binds port 0 and reports its port; Orleans needs its ports named, so a port taken between being
            // picked and being bound costs a fresh start on other ports.
            var app = Build(database, settings, services);
            try
            {
                await app.StartAsync();
                return new GatewayHost(app, database, new Uri(app.Urls.First()));
            }
            catch (Exception ex) when (attempt < 3 && IsAddressInUse(ex))
            {
                await app.DisposeAsync();
            }
            catch
            {
                await app.DisposeAsync();
                database.Dispose();
                throw;
            }
        }
    }

    private static WebApplication Build(TempDatabase database, IDictionary<string, string?>? settings, Action<IServiceCollection>? services)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = database.Folder, EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["ConnectionStrings:Orleans"] = database.ConnectionString,
            ["Cluster:SiloPort"] = Loopback.FreePort().ToString(),
            ["Cluster:GatewayPort"] = Loopback.FreePort().ToString(),
            ["Cluster:ClusterId"] = $"test-{Guid.NewGuid():N}",
            // Tests poll (every 50 ms) from one address; a test about the HTTP limits sets them low in its own gateway.
            ["Http:PermitsPerMinute"] = GatewayProcess.UnthrottledPermitsPerMinute,
            ["Http:PermitsPerMinutePerAddress"] = GatewayProcess.UnthrottledPermitsPerMinute,
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddSearchCluster();
        builder.AddSearchApi();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapSearchApi();
        return app;
    }

    private static bool IsAddressInUse(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || ex.Message.Contains("Address already in use", StringComparison.Ordinal)
                || ex is AggregateException aggregate && aggregate.InnerExceptions.Any(IsAddressInUse))
            {
                return true;
            }
        }
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _database?.Dispose();
    }
}
