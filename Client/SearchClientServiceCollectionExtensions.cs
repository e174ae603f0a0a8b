using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Orleans.Search.Client;

/// <summary>Registers <see cref="SearchJobsClient"/> as a typed HTTP client.</summary>
public static class SearchClientServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="SearchJobsClient"/> (a typed <see cref="HttpClient"/> from the factory) configured by
    /// <paramref name="configure"/>; the options are validated when the host starts. Returns the client's builder, to add
    /// handlers or resilience.
    /// </summary>
    public static IHttpClientBuilder AddOrleansSearchClient(this IServiceCollection services, Action<SearchClientOptions> configure)
    {
        services.AddOptions<SearchClientOptions>()
            .Configure(configure)
            .Validate(o =>
            {
                try
                {
                    o.Validate();
                    return true;
                }
                catch (ArgumentException)
                {
                    return false;
                }
            }, "SearchClientOptions are invalid: BaseAddress must be an absolute http(s) address and reconnect settings positive.")
            .ValidateOnStart();
        var client = services.AddHttpClient(nameof(SearchJobsClient));
        client.AddTypedClient((http, provider) => new SearchJobsClient(http, provider.GetRequiredService<IOptions<SearchClientOptions>>().Value));
        return client;
    }
}
