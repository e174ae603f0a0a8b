using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Orleans.Search.Llm;

public static class LlmServiceCollectionExtensions
{
    /// <summary>
    /// The LLM providers (<c>Llm</c> section, validated at start) and <see cref="ILanguageModels"/> over them. Needs a
    /// silo: every call takes a permit from the provider's <c>llm:{name}</c> limiter grain.
    /// </summary>
    public static IServiceCollection AddLanguageModels(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<LlmOptions>().Bind(configuration.GetSection(LlmOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LlmOptions>, LlmOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        // Timeouts are the caller's (time to first token, then between chunks), never the HttpClient's whole-response one.
        services.AddHttpClient(LanguageModels.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan);
        services.TryAddSingleton<LlmTokenizer>();
        services.TryAddSingleton<ILanguageModels, LanguageModels>();
        return services;
    }
}
