using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Cluster;

/// <summary>
/// Silo and gateway processes (client mode) on a fresh PostgreSQL database, searching a loopback fake SearXNG that
/// runs in the test process. Everything is on 127.0.0.1. Disposing kills what is left and drops the database.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly string _folder = Directory.CreateTempSubdirectory("orleans-search-cluster-").FullName;
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<SiloProcess> _silos = [];
    private readonly List<GatewayProcess> _gateways = [];
    private IHost? _client;

    private PostgresCluster(PostgresDatabase database, FakeSearxng searxng)
    {
        Database = database;
        Searxng = searxng;
    }

    public PostgresDatabase Database { get; }

    public FakeSearxng Searxng { get; }

    public IReadOnlyList<SiloProcess> Silos => _silos;

    public IReadOnlyList<GatewayProcess> Gateways => _gateways;

    /// <summary>Settings every silo and gateway of this cluster shares, plus the test's own.</summary>
    public Dictionary<string, string> Settings { get; } = [];

    /// <summary>A cluster on a fresh database, or on <paramref name="database"/> (which it then owns and drops).</summary>
    public static async Task<PostgresCluster> CreateAsync(FakeSearxngOptions? searxng = null, PostgresDatabase? database = null)
    {
        database ??= await PostgresDatabase.CreateAsync();
        var fake = await FakeSearxng.StartAsync(searxng ?? new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(30) });
        var cluster = new PostgresCluster(database, fake);
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["ConnectionStrings:Orleans"] = database.ConnectionString,
            ["Cluster:Storage"] = "postgres",
            ["Cluster:Membership"] = "adonet",
            ["Cluster:ClusterId"] = cluster._clusterId,
            ["Cluster:ServiceId"] = cluster._clusterId,
            ["Search:DefaultProvider"] = "web",
            ["Search:Providers:web:Kind"] = "searxng",
            ["Search:Providers:web:BaseUrl"] = fake.BaseUrl.ToString(),
            ["Search:Providers:web:MaxConcurrency"] = "8",
            ["Search:Providers:web:PermitsPerMinute"] = "60000",
            ["Search:Providers:web:Burst"] = "100",
            ["Limits:User:PermitsPerMinute"] = "60000",
            ["Limits:User:Burst"] = "100",
            ["Limits:User:MaxConcurrency"] = "50",
            ["Limits:User:MaxActiveJobs"] = "100",
            ["Limits:User:MaxJobsPerMinute"] = "100000",
            ["Limits:User:MaxStoredJobs"] = "100000",
            ["Logging:Console:TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        })
        {
            cluster.Settings[key] = value;
        }
        return cluster;
    }

    /// <summary>Starts silos side by side (they apply the schema concurrently) and waits until each is Active in the membership table.</summary>
    public async Task<IReadOnlyList<SiloProcess>> StartSilosAsync(int count, IDictionary<string, string>? extra = null)
    {
        var silos = await Task.WhenAll(Enumerable.Range(0, count).Select(_ =>
            SiloProcess.StartAsync(_folder, With(extra), silo => Database.IsActiveAsync(silo.SiloPort))));
        _silos.AddRange(silos);
        return silos;
    }

    public async Task<GatewayProcess> StartGatewayAsync(IDictionary<string, string>? extra = null)
    {
        var settings = With(extra);
        settings["Cluster:Mode"] = "client";
        var gateway = await GatewayProcess.StartAsync(_folder, settings);
        _gateways.Add(gateway);
        return gateway;
    }

    /// <summary>An Orleans client in the test process, to ask the cluster where activations live.</summary>
    public async Task<IClusterClient> ClientAsync()
    {
        if (_client is null)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleansClient(client => client
                .UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = Database.ConnectionString;
                })
                .Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = _clusterId;
                    o.ServiceId = _clusterId;
                })
                .Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2)));
            _client = builder.Build();
            await _client.StartAsync();
        }
        return _client.Services.GetRequiredService<IClusterClient>();
    }

    /// <summary>Creates a job through a gateway; the 202's job id.</summary>
    public static async Task<string> CreateJobAsync(GatewayProcess gateway, IReadOnlyList<string> queries, int pages)
    {
        using var http = gateway.Http();
        using var response = await http.PostAsJsonAsync("/api/search-jobs", new { queries, pages });
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted,
            $"create answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JobStatus>(Json))!.JobId;
    }

    /// <summary>The job's status, or null while the gateway cannot answer (a silo just died, the database is away).</summary>
    public static async Task<JobStatus?> TryGetJobAsync(GatewayProcess gateway, string jobId)
    {
        try
        {
            using var http = gateway.Http();
            http.Timeout = TimeSpan.FromSeconds(10);
            using var response = await http.GetAsync($"/api/search-jobs/{jobId}");
            return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JobStatus>(Json) : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Every job's status, each terminal, within the deadline.</summary>
    public async Task<IReadOnlyList<JobStatus>> WaitForAllAsync(GatewayProcess gateway, IReadOnlyList<string> jobIds, TimeSpan timeout)
    {
        var done = new Dictionary<string, JobStatus>();
        try
        {
            await WaitAsync();
        }
        catch (TimeoutException ex)
        {
            var stuck = new List<string>();
            foreach (var id in jobIds.Where(id => !done.ContainsKey(id)))
            {
                using var http = gateway.Http();
                stuck.Add($"job {id}: {await Describe(http, $"/api/search-jobs/{id}/debug")}\nevents: {await Describe(http, $"/api/search-jobs/{id}/events")}");
            }
            throw new TimeoutException($"{ex.Message}\n{string.Join("\n", stuck)}\n{Logs()}", ex);
        }
        return jobIds.Select(id => done[id]).ToList();

        static async Task<string> Describe(HttpClient http, string path)
        {
            try
            {
                http.Timeout = TimeSpan.FromSeconds(10);
                return await http.GetStringAsync(path);
            }
            catch (Exception e)
            {
                return e.Message;
            }
        }

        Task WaitAsync() => Eventually.ReturnsAsync(async () =>
        {
            foreach (var id in jobIds.Where(id => !done.ContainsKey(id)))
            {
                if (await TryGetJobAsync(gateway, id) is { } status && JobStates.IsTerminal(status.Status))
                {
                    done[id] = status;
                }
            }
            return done.Count;
        }, count => count == jobIds.Count, $"all {jobIds.Count} jobs to finish", timeout);
    }

    /// <summary>What every process printed, for a failure message.</summary>
    public string Logs() => string.Join("\n", _silos.Select((s, i) => $"--- silo {i} (port {s.SiloPort}, {s.State}) ---\n{s.Output}")
        .Concat(_gateways.Select((g, i) => $"--- gateway {i} ({g.BaseAddress}, {g.State}) ---\n{g.Output}")));

    private Dictionary<string, string> With(IDictionary<string, string>? extra)
    {
        var settings = new Dictionary<string, string>(Settings);
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }
        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        Searxng.Options.OpenGate();
        if (_client is not null)
        {
            try
            {
                await _client.StopAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception)
            {
            }
            _client.Dispose();
        }
        foreach (var gateway in _gateways)
        {
            await gateway.DisposeAsync();
        }
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }
        await Searxng.DisposeAsync();
        await Database.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
