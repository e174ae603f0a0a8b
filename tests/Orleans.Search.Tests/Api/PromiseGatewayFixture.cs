using Orleans.Search.Fakes;

namespace Orleans.Search.Tests.Api;

/// <summary>
/// One real gateway (no keys: every caller is user <c>local</c>) for promises that need settings of their own:
/// a short result cache <see cref="CacheTtl"/>; provider <c>web</c> (the default, on <see cref="Searxng"/>, fast and
/// generous) and provider <c>single</c> (on <see cref="GatedSearxng"/>, one call at a time, for fairness).
/// </summary>
public sealed class PromiseGatewayFixture : IAsyncLifetime
{
    public static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(5);

    public GatewayHost Gateway { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    public FakeSearxng GatedSearxng { get; private set; } = null!;

    public HttpClient Http => Gateway.Http;

    public async Task InitializeAsync()
    {
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions());
        GatedSearxng = await FakeSearxng.StartAsync(new FakeSearxngOptions());
        var settings = GatewaySettings.Common(Searxng);
        settings["Search:Cache:Ttl"] = CacheTtl.ToString();
        GatewaySettings.AddSearxng(settings, "single", GatedSearxng,
            ("PermitsPerMinute", "60000"), ("Burst", "100"), ("MaxConcurrency", "1"), ("MaxAttempts", "1"), ("TimeoutSeconds", "120"));
        settings["Limits:User:Burst"] = "1000";
        Gateway = await GatewayHost.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        GatedSearxng?.Options.OpenGate();
        await FixtureParts.DisposeAsync(Gateway, GatedSearxng, Searxng);
    }
}

[CollectionDefinition(Name)]
public sealed class PromiseGatewayCollection : ICollectionFixture<PromiseGatewayFixture>
{
    public const string Name = "api: promises with settings of their own";
}
