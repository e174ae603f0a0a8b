using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Search.Caching;
using Orleans.Search.Providers;
using Orleans.Search.Providers.Code;
using Orleans.Search.Providers.Http;
using Orleans.Search.Providers.Local;
using Orleans.Search.Providers.Searxng;

namespace Orleans.Search.Hosting;

public static class SearchServiceCollectionExtensions
{
    /// <summary>
    /// The options the grains and the API share, each bound once from its section and validated when the host starts
    /// (a bad value stops it with a message naming the key). Safe to call again: a gateway with an embedded silo does.
    /// </summary>
    public static IServiceCollection AddSearchOptions(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(IValidateOptions<SearchOptions>) && d.ImplementationType == typeof(SearchOptionsValidator)))
        {
            return services;
        }
        services.AddOptions<SearchOptions>().Bind(configuration.GetSection(SearchOptions.Section))
            .PostConfigure(o =>
            {
                // Works offline with no keys: a local provider over the shipped sample corpus.
                if (o.Providers.Count == 0)
                {
                    o.Providers["local"] = new SearchProviderOptions { Kind = "local", Path = LocalProviderFactory.DefaultPath };
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SearchOptions>, SearchOptionsValidator>();
        services.AddOptions<UserLimitOptions>().Bind(configuration.GetSection(UserLimitOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<UserLimitOptions>, UserLimitOptionsValidator>();
        services.AddOptions<JobOptions>().Bind(configuration.GetSection(JobOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<JobOptions>, JobOptionsValidator>();
        services.AddOptions<CacheOptions>().Bind(configuration.GetSection(CacheOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CacheOptions>, CacheOptionsValidator>();
        services.AddOptions<Jobs.Pipeline.ResearchOptions>().Bind(configuration.GetSection(Jobs.Pipeline.ResearchOptions.Section))
            .Validate(o => o.ExpandMaxOutputTokens > 0 && o.FollowupMaxOutputTokens > 0 && o.AnswerMaxOutputTokens > 0,
                "Research:ExpandMaxOutputTokens, FollowupMaxOutputTokens and AnswerMaxOutputTokens must be positive.")
            .Validate(o => o.ExcerptChars > 0 && o.SnippetSources > 0 && o.AnswerDeltaChars > 0 && o.AnswerDeltaMilliseconds >= 0,
                "Research:ExcerptChars, SnippetSources and AnswerDeltaChars must be positive, and AnswerDeltaMilliseconds 0 or more.")
            .ValidateOnStart();
        return services;
    }

    /// <summary>What the grains need: options, providers, resilience pipelines, limiter plumbing and the clock.</summary>
    public static IServiceCollection AddSearchGrainServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSearchOptions(configuration);

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
