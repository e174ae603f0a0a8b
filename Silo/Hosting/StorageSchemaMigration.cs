using Orleans.Search.Silo.Storage;

namespace Orleans.Search.Silo.Hosting;

/// <summary>Applies the storage schema first thing in the silo's lifecycle, before any ADO.NET provider reads OrleansQuery.</summary>
internal sealed partial class StorageSchemaMigration(StorageSchemaMigration.Target target, ILogger<StorageSchemaMigration> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(StorageSchemaMigration), ServiceLifecycleStage.First, ApplyAsync);

    private async Task ApplyAsync(CancellationToken cancellationToken)
    {
        if (target.IsPostgres)
        {
            await OrleansSchema.ApplyPostgresAsync(target.ConnectionString, cancellationToken);
        }
        else
        {
            await OrleansSchema.ApplySqliteAsync(target.ConnectionString, cancellationToken);
        }
        LogSchemaApplied(logger, target.IsPostgres ? "postgres" : "sqlite");
    }

    internal sealed record Target(bool IsPostgres, string ConnectionString);

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage schema applied ({Storage})")]
    private static partial void LogSchemaApplied(ILogger logger, string storage);
}
