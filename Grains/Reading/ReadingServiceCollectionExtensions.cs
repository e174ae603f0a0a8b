using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Search.Net;

namespace Orleans.Search.Reading;

public static class ReadingServiceCollectionExtensions
{
    /// <summary>
    /// The page readers: <see cref="IPageReader"/> (cached, then <c>Read:Reader</c>'s reader), the <c>direct</c> and
    /// <c>jina</c> readers themselves, robots.txt cache, politeness slots and the outbound guard. Options validated at start.
    /// </summary>
    public static IServiceCollection AddPageReading(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOutboundGuard(configuration);
        services.AddOptions<ReadOptions>().Bind(configuration.GetSection(ReadOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ReadOptions>, ReadOptionsValidator>();
        services.AddSingleton<RobotsCache>();
        services.AddSingleton<ReadSlots>();
        services.AddSingleton<DirectPageReader>();
        services.AddSingleton<JinaPageReader>();
        services.AddHttpClient(JinaPageReader.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<IPageReader>(sp => new CachingPageReader(
            sp.GetRequiredService<IGrainFactory>(),
            sp.GetRequiredService<IOptions<ReadOptions>>().Value.Reader == "jina"
                ? sp.GetRequiredService<JinaPageReader>()
                : sp.GetRequiredService<DirectPageReader>()));
        return services;
    }

    /// <summary>Names every key that is wrong, not just that something is.</summary>
    private sealed class ReadOptionsValidator : IValidateOptions<ReadOptions>
    {
        public ValidateOptionsResult Validate(string? name, ReadOptions options)
        {
            var problems = ReadOptions.Problems(options).ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
