using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.Search.Caching;
using Orleans.Search.Hosting;
using Orleans.Search.Jobs;
using Orleans.Search.Llm;
using Orleans.Search.Reading;
using Orleans.Search.Silo.Storage;
using Orleans.Search.Storage;
using Orleans.Search.Webhooks;

namespace Orleans.Search.Silo.Hosting;

public static class SearchSiloBuilderExtensions
{
    /// <summary>
    /// Everything a search silo needs except clustering: durable grain storage and reminders on the configured
    /// database (schema applied at start), the progress stream, System.Text.Json state, the grain services,
    /// and what resumes unfinished jobs: a sweep at startup and another whenever a silo dies.
    /// </summary>
    public static ISiloBuilder AddSearchSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var cluster = ClusterSettings.For(silo.Services, configuration);
        var connectionString = cluster.ConnectionString;

        silo.Services.AddSingleton(new StorageSchemaMigration.Target(cluster.IsPostgres, connectionString));
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, StorageSchemaMigration>();

        silo.UseSystemTextJsonGrainStorageSerializer();
        silo.AddAdoNetGrainStorage(SearchStorage.Name, o =>
        {
            o.Invariant = cluster.Invariant;
            o.ConnectionString = connectionString;
            // Clearing state deletes the row (DeleteStorageKey): a job past its retention leaves nothing behind.
            o.DeleteStateOnClear = true;
        });
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = cluster.Invariant;
            o.ConnectionString = connectionString;
        });
        // A job's resume reminder, or a webhook delivery's, may be shorter than Orleans' default minimum (tests and small
        // deployments use seconds).
        silo.Services.AddOptions<ReminderOptions>().Configure<IOptions<JobOptions>, IOptions<WebhookOptions>>((o, jobs, webhooks) =>
        {
            o.MinimumReminderPeriod = jobs.Value.ResumeReminderPeriod < o.MinimumReminderPeriod ? jobs.Value.ResumeReminderPeriod : o.MinimumReminderPeriod;
            o.MinimumReminderPeriod = webhooks.Value.ReminderPeriod < o.MinimumReminderPeriod ? webhooks.Value.ReminderPeriod : o.MinimumReminderPeriod;
        });

        // A cache activation lives as long as its entry may: its collection age follows the configured TTL.
        silo.Services.AddOptions<GrainCollectionOptions>().Configure<IOptions<CacheOptions>>((o, cache) =>
            o.ClassSpecificCollectionAge[typeof(ResultCacheGrain).FullName!] = cache.Value.CollectionAge);

        // Pulling agents look for new events every 20 ms instead of 100 ms: a page's event reaches SSE sooner
        // (p50 about 15 ms instead of 60). The price: an idle silo polls its queues 5× as often (measured: about 9% of a
        // core idle instead of 4%).
        silo.AddMemoryStreams(SearchStreams.ProviderName, streams => streams.ConfigurePullingAgent(agent =>
            agent.Configure(o => o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(20))));
        // Stream subscriptions survive the silo that held them. Orleans' own binary format here: the records hold
        // grain references and stream ids that System.Text.Json cannot round-trip.
        silo.AddAdoNetGrainStorage(SearchStorage.PubSub, options => options.Configure<Serializer>((o, serializer) =>
        {
            o.Invariant = cluster.Invariant;
            o.ConnectionString = connectionString;
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            // A stream's rendezvous clears its state once it has no producer or consumer left (a finished job's stream,
            // when the pulling agent lets it go): delete the row then, rather than keep an empty one per job forever.
            o.DeleteStateOnClear = true;
        }));
        // This silo's grain writes share transactions (and their commit), rather than commit one each; on SQLite (one
        // file, one writer at a time) in turns with its other writes.
        silo.Services.GroupCommitGrainStorageWrites(cluster.IsPostgres, connectionString, SearchStorage.Name, SearchStorage.PubSub);
        // A deleted job erases its stream's registry row; the registry's activation may not know yet.
        silo.Services.DecorateGrainStorage(SearchStorage.PubSub, (_, inner) => new StreamRegistryGrainStorage(inner));
        if (!cluster.IsPostgres)
        {
            // The reminder table's writes take the same turns as the grain storages' group commits.
            silo.Services.SerializeReminderTableWrites();
        }
        // The per-user job index: a table of ours (one row per job) beside the Orleans tables.
        silo.Services.AddSingleton<IUserJobStore>(sp =>
        {
            var serviceId = sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId;
            return cluster.IsPostgres
                ? new PostgresUserJobStore(connectionString, serviceId)
                : new SqliteUserJobStore(connectionString, serviceId, sp.GetRequiredService<SqliteWriteLock>());
        });
        silo.Services.AddSingleton<IStreamRegistryStore>(sp =>
        {
            var serviceId = sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId;
            return cluster.IsPostgres
                ? new AdoStreamRegistryStore(() => new Npgsql.NpgsqlConnection(connectionString), serviceId, writeLock: null)
                : new AdoStreamRegistryStore(() => new Microsoft.Data.Sqlite.SqliteConnection(connectionString), serviceId, sp.GetRequiredService<SqliteWriteLock>());
        });
        if (OperationsExtensions.DashboardEnabled(configuration))
        {
            silo.AddDashboard();
        }

        silo.Services.AddSearchGrainServices(configuration);
        silo.Services.AddLanguageModels(configuration);
        silo.Services.AddPageReading(configuration);
        silo.Services.AddWebhooks(configuration);
        silo.Services.AddDatabaseExceptionSerialization();
        silo.Services.AddSingleton<ActiveJobsSweep>();
        silo.AddStartupTask<ResumeActiveJobs>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, ResumeJobsOnSiloDeath>();
        return silo;
    }

    /// <summary>
    /// Lets database exceptions cross grain calls intact. Orleans serializes only exceptions of the namespaces it lists
    /// (System, Microsoft, Orleans, ...); an NpgsqlException would reach the gateway as a CodecNotFoundException, and
    /// the gateway could no longer tell "database away" (503, retry) from a bug (500). Silos and clients both need it.
    /// </summary>
    public static IServiceCollection AddDatabaseExceptionSerialization(this IServiceCollection services) =>
        services.Configure<ExceptionSerializationOptions>(o =>
        {
            if (!o.SupportedNamespacePrefixes.Contains("Npgsql"))
            {
                o.SupportedNamespacePrefixes.Add("Npgsql");
            }
        });
}
