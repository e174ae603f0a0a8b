using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;
using Orleans.Search.Diagnostics;
using Orleans.Search.Silo.Security;

namespace Orleans.Search.Silo.Hosting;

/// <summary>
/// What operators read: metrics (OpenTelemetry; Prometheus scrape at /metrics, OTLP push when configured) and the Orleans
/// dashboard. Both need the admin role (an admin key, or a loopback caller when there are no keys): they show every
/// user's activity and the cluster's inner workings.
/// </summary>
public static class OperationsExtensions
{
    /// <summary><c>Dashboard:Enabled</c> (default false) serves the official Orleans dashboard at <c>/dashboard</c>.</summary>
    public static bool DashboardEnabled(IConfiguration configuration) => configuration.GetValue("Dashboard:Enabled", false);

    public static IHostApplicationBuilder AddSearchTelemetry(this IHostApplicationBuilder builder)
    {
        var metrics = builder.Services.AddOpenTelemetry().WithMetrics(m =>
        {
            m.AddMeter(SearchMetrics.MeterName, "Microsoft.Orleans")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter();
            // OTEL_EXPORTER_OTLP_ENDPOINT (or OpenTelemetry:Otlp:Endpoint) turns on pushing as well.
            if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? builder.Configuration["OpenTelemetry:Otlp:Endpoint"]))
            {
                m.AddOtlpExporter();
            }
        });
        return builder;
    }

    public static WebApplication MapSearchOperations(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(SecurityExtensions.AdminPolicy);
        if (DashboardEnabled(app.Configuration))
        {
            app.MapOrleansDashboard(routePrefix: "/dashboard").RequireAuthorization(SecurityExtensions.AdminPolicy);
        }
        return app;
    }
}
