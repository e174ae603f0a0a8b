using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Search.Net;
using Orleans.Search.Reading;
using Orleans.Search.Tests.Providers;

namespace Orleans.Search.Tests.Reading;

/// <summary>The silo's reading services from the real registration (no cluster): the readers, the guard, a test DNS.</summary>
public sealed class ReadingServices : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private ReadingServices(ServiceProvider services, CapturedLogs logs)
    {
        _services = services;
        Logs = logs;
    }

    public CapturedLogs Logs { get; }

    public OutboundGuard Guard => _services.GetRequiredService<OutboundGuard>();

    public IPageReader Direct => _services.GetRequiredService<DirectPageReader>();

    public IPageReader Jina => _services.GetRequiredService<JinaPageReader>();

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    /// <summary>
    /// <paramref name="settings"/> on top of: 127.0.0.1 allowed past the guard (the fakes live there), and a test DNS
    /// where <c>*.test</c> names resolve as <paramref name="names"/> says (anything else goes to the system resolver).
    /// </summary>
    public static ReadingServices Create(IDictionary<string, string?>? settings = null, IDictionary<string, IPAddress[]>? names = null)
    {
        var all = new Dictionary<string, string?> { ["Net:AllowHosts:0"] = "127.0.0.1" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
        var logs = new CapturedLogs();
        var services = new ServiceCollection()
            .AddLogging(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(logs))
            .AddSingleton<IHostResolver>(new TestResolver(names ?? new Dictionary<string, IPAddress[]>()))
            .AddPageReading(configuration)
            .BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        return new ReadingServices(services, logs);
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    /// <summary>Names ending in <c>.test</c> resolve from a table; the rest through the system resolver (loopback names only, in tests).</summary>
    public sealed class TestResolver(IDictionary<string, IPAddress[]> names) : IHostResolver
    {
        public ConcurrentQueue<string> Asked { get; } = new();

        async Task<IPAddress[]> IHostResolver.ResolveAsync(string host, CancellationToken cancellationToken)
        {
            Asked.Enqueue(host);
            if (names.TryGetValue(host, out var addresses))
            {
                return addresses;
            }
            if (host.EndsWith(".test", StringComparison.OrdinalIgnoreCase))
            {
                return [];
            }
            return await Dns.GetHostAddressesAsync(host, cancellationToken);
        }
    }
}

/// <summary>A TCP listener that counts the connections it accepts: the proof that nothing connected to its address.</summary>
public sealed class AcceptCounter : IDisposable
{
    private readonly TcpListener _listener;
    private int _accepted;

    public AcceptCounter(IPAddress address)
    {
        _listener = new TcpListener(address, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptLoopAsync();
    }

    public int Port { get; }

    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                using var client = await _listener.AcceptTcpClientAsync();
                Interlocked.Increment(ref _accepted);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose() => _listener.Stop();
}
