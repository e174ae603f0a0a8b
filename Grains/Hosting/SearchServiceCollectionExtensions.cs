using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Search.Providers;
using Orleans.Search.Providers.Code;
using Orleans.Search.Providers.Http;
using Orleans.Search.Providers.Local;
using Orleans.Search.Providers.Searxng;

namespace Orleans.Search.Hosting;

public static class SearchServiceCollectionExtensions
{
    /// <summary>What the grains need: options, providers, resilience pipelines, limiter plumbing and the clock.</summary>
    public static IServiceCollection AddSearchGrainServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SearchOptions>().Bind(configuration.GetSection(SearchOptions.Section))
            .PostConfigure(o =>
            {
                // Works offline with no keys: a local provider over the shipped sample corpus.
                if (o.Providers.Count == 0)
                {
                    o.Providers["local"] = new SearchProviderOptions { Kind = "local", Path = LocalProviderFactory.DefaultPath };
                }
            })
            .Validate(o => o.MaxResponseBytes > 0, "Search:MaxResponseBytes must be positive.")
            .Validate(o => double.IsFinite(o.MaxPauseSeconds) && o.MaxPauseSeconds >= 0, "Search:MaxPauseSeconds must be 0 or more.")
            .Validate(o => o.Providers.Values.All(p => p.MaxFileBytes > 0 && p.MaxFiles > 0), "Search:Providers:{name}:MaxFileBytes and MaxFiles must be positive.")
            .ValidateOnStart();
        services.AddOptions<UserLimitOptions>().Bind(configuration.GetSection(UserLimitOptions.Section))
            .Validate(o => o.MaxActiveJobs >= 0 && o.MaxJobsPerMinute >= 0 && o.MaxStoredJobs >= 0,
                "Limits:User:MaxActiveJobs, MaxJobsPerMinute and MaxStoredJobs must be 0 (no limit) or more.")
            .ValidateOnStart();
        services.AddOptions<JobOptions>().Bind(configuration.GetSection(JobOptions.Section))
            .Validate(o => o.StallCheckPeriod > TimeSpan.Zero, "Jobs:StallCheckPeriod must be positive.")
            .ValidateOnStart();
        services.AddOptions<Caching.CacheOptions>().Bind(configuration.GetSection(Caching.CacheOptions.Section));

        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(SearxngProviderFactory.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<ISearchProviderFactory, LocalProviderFactory>();
        services.AddSingleton<ISearchProviderFactory, SearxngProviderFactory>();
        services.AddHttpClient(HttpProviderFactory.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan);
        foreach (var kind in HttpProviderFactory.Kinds)
        {
            services.AddSingleton<ISearchProviderFactory>(sp => ActivatorUtilities.CreateInstance<HttpProviderFactory>(sp, kind));
        }
        services.AddSingleton<ISearchProviderFactory, CodeProviderFactory>();
        services.AddSingleton<SearchProviderCatalog>();
        services.AddSingleton<ProviderResilience>();
        services.AddSingleton<ProviderPermits>();
        services.AddSingleton<LimiterSettingsSource>();
        // The local providers' indexes are built when the silo starts, not inside a first search's timeout.
        services.AddHostedService<LocalIndexStartup>();
        return services;
    }
}
