using Orleans.Search.Silo.Hosting;
using Orleans.Search.Silo.Security;
using Orleans.Search.Silo.Storage;

var builder = WebApplication.CreateBuilder(args);

if (args.Contains("migrate"))
{
    // `dotnet Orleans.Search.Silo.dll migrate`: apply the storage schema and exit.
    var cluster = ClusterSettings.Read(builder.Configuration);
    var connectionString = cluster.ConnectionString;
    await (cluster.IsPostgres ? OrleansSchema.ApplyPostgresAsync(connectionString) : OrleansSchema.ApplySqliteAsync(connectionString));
    Console.WriteLine($"Schema applied ({cluster.Storage}).");
    return 0;
}

// A silo: no search API of its own, only health, metrics and (if enabled) the dashboard.
builder.UseOrleans(silo => silo
    .UseSearchClustering(builder.Configuration)
    .AddSearchSilo(builder.Configuration));
builder.AddSearchTelemetry();
builder.AddSearchAuthentication();
builder.Services.AddHealthChecks();

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();
app.MapHealthChecks("/healthz");
app.MapSearchOperations();
return app.RunUnlessRefused();
