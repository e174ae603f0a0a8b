using Orleans.Search.Providers.Brave;
using Orleans.Search.Providers.Jina;
using Orleans.Search.Providers.Perplexity;
using Orleans.Search.Providers.Tavily;

namespace Orleans.Search.Providers.Http;

/// <summary>Creates the HTTP adapters (<c>jina</c>, <c>brave</c>, <c>tavily</c>, <c>perplexity</c>) on one named <see cref="HttpClient"/>, with the response limits configured now.</summary>
public sealed class HttpProviderFactory(string kind, IHttpClientFactory httpClients, IOptionsMonitor<SearchOptions> search, TimeProvider time) : ISearchProviderFactory
{
    public const string HttpClientName = "search-providers";

    public static readonly string[] Kinds = ["jina", "brave", "tavily", "perplexity"];

    public string Kind => kind;

    public ISearchProvider Create(string name, SearchProviderOptions options)
    {
        var http = httpClients.CreateClient(HttpClientName);
        var limits = ResponseLimits.From(search.CurrentValue);
        return kind switch
        {
            "jina" => new JinaSearchProvider(name, options, http, limits),
            "brave" => new BraveSearchProvider(name, options, http, limits, time),
            "tavily" => new TavilySearchProvider(name, options, http, limits),
            "perplexity" => new PerplexitySearchProvider(name, options, http, limits),
            _ => throw new ProviderException(name, $"Provider '{name}' has unknown kind '{kind}'.", statusCode: 400),
        };
    }
}
