using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Orleans.Search.Gateway.Api;
using Orleans.Search.Gateway.Events;
using Orleans.Search.Gateway.FrontDoor;
using Orleans.Search.Gateway.Health;
using Orleans.Search.Gateway.WebPage;
using Orleans.Dashboard;
using Orleans.Search.Hosting;
using Orleans.Search.Silo.Hosting;
using Orleans.Search.Silo.Security;

namespace Orleans.Search.Gateway.Extensions;

public static class GatewayExtensions
{
    /// <summary><c>Cluster:Mode=embedded</c>: a silo in this process (default). <c>client</c>: connect to a cluster of silos.</summary>
    public static WebApplicationBuilder AddSearchCluster(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var cluster = ClusterSettings.For(builder.Services, configuration);
        if (cluster.Mode == "embedded")
        {
            builder.UseOrleans(silo => silo.UseSearchClustering(configuration).AddSearchSilo(configuration));
        }
        else
        {
            builder.UseOrleansClient(client => client.UseSearchClustering(configuration));
        }
        return builder;
    }

    /// <summary>
    /// The HTTP API's services: the front door (hosts, body size, rate limits), auth, problem details, JSON, OpenAPI,
    /// health checks, validation and the event feed.
    /// </summary>
    public static WebApplicationBuilder AddSearchApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.FillDetail);
        services.AddExceptionHandler<UnavailableExceptionHandler>();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        });
        builder.AddFrontDoor();
        builder.AddSearchAuthentication().RequireKeysBeyondLoopback();
        services.AddOpenApi();

        services.AddSearchOptions(builder.Configuration);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<JobRequests>();
        services.AddSingleton<JobSpecReader>();
        services.AddSingleton<JobEventFeed>();
        services.AddSingleton<OpenStreamPermits>();
        services.AddOptions<EventStreamOptions>().Bind(builder.Configuration.GetSection(EventStreamOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<EventStreamOptions>, EventStreamOptionsValidator>();

        builder.AddSearchTelemetry();
        services.AddSingleton<ClusterHealthCheck>().AddSingleton<CachedHealthCheck<ClusterHealthCheck>>();
        services.AddSingleton<StorageHealthCheck>().AddSingleton<CachedHealthCheck<StorageHealthCheck>>();
        services.AddHealthChecks()
            .AddCheck<CachedHealthCheck<ClusterHealthCheck>>("cluster", tags: ["ready"])
            .AddCheck<CachedHealthCheck<StorageHealthCheck>>("storage", tags: ["ready"]);
        return builder;
    }

    public static WebApplication MapSearchApi(this WebApplication app)
    {
        app.UseSecurityHeaders();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseFrontDoor();
        // The page's files need no key (the API they call does), so they are served before authentication.
        app.UseWebPage();
        app.UseAuthentication();
        app.UseUserRateLimit();
        app.UseAuthorization();
        app.MapOpenApi();
        // Liveness answers without touching anything, so it needs no limit (and an orchestrator's probe must never be throttled).
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false }).DisableRateLimiting();
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        app.MapSearchJobEndpoints();
        app.MapWebhookApi();
        app.MapProviderEndpoints();
        app.MapSearchOperations();
        return app;
    }
}
