using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Api;

/// <summary>
/// A gateway of its own (fresh SQLite file) for the delete, client-library and CLI tests, with keys for alice and bob;
/// provider <c>web</c> answers at once and fails queries containing <see cref="FailMarker"/> with 500, provider
/// <c>gated</c> is a second fake whose gate the tests close to hold a job running with a call in flight.
/// </summary>
public sealed class ClientsGatewayFixture : IAsyncLifetime
{
    public const string AliceKey = "clients-key-alice";
    public const string BobKey = "clients-key-bob";
    public const string FailMarker = "[fail500]";

    public GatewayHost Gateway { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    public FakeSearxng GatedSearxng { get; private set; } = null!;

    public HttpClient Alice { get; private set; } = null!;

    public HttpClient Bob { get; private set; } = null!;

    public string ConnectionString => Gateway.Services.GetRequiredService<IConfiguration>().GetConnectionString("Orleans")!;

    public async Task InitializeAsync()
    {
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions
        {
            Latency = TimeSpan.FromMilliseconds(5),
            FailQueries = q => q.Contains(FailMarker, StringComparison.Ordinal),
        });
        GatedSearxng = await FakeSearxng.StartAsync(new FakeSearxngOptions { Latency = TimeSpan.FromMilliseconds(5) });
        var settings = GatewaySettings.Common(Searxng);
        TestKeys.Configure(settings, 0, AliceKey, "alice");
        TestKeys.Configure(settings, 1, BobKey, "bob");
        // A held call ends only by a cancel, never by its attempt timeout.
        GatewaySettings.AddSearxng(settings, "gated", GatedSearxng, ("MaxAttempts", "1"), ("TimeoutSeconds", "600"));
        Gateway = await GatewayHost.StartAsync(settings);
        Alice = Client(AliceKey);
        Bob = Client(BobKey);
    }

    /// <summary>A client of this gateway sending <paramref name="key"/>.</summary>
    public HttpClient Client(string key) => Gateway.Client(key);

    public async Task DisposeAsync()
    {
        GatedSearxng?.Options.OpenGate();
        Alice?.Dispose();
        Bob?.Dispose();
        await FixtureParts.DisposeAsync(Gateway, GatedSearxng, Searxng);
    }
}

[CollectionDefinition(Name)]
public sealed class ClientsGatewayCollection : ICollectionFixture<ClientsGatewayFixture>
{
    public const string Name = "api: gateway for the delete, client and CLI tests";
}
