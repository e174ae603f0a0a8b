namespace Orleans.Search.Gateway.Api;

/// <summary><c>GET /api/providers</c>: the configured search providers' names and kinds (never their addresses or keys).</summary>
public static class ProviderEndpoints
{
    public static IEndpointRouteBuilder MapProviderEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGroup("/api").RequireAuthorization().WithTags("Providers")
            .MapGet("/providers", (IOptionsMonitor<SearchOptions> search) =>
            {
                var options = search.CurrentValue;
                return TypedResults.Ok(new ProviderList(options.DefaultProvider,
                    options.Providers.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new ProviderInfo(p.Key, p.Value.Kind)).ToList()));
            })
            .WithName("ListProviders").WithSummary("The configured search providers and the default one");
        return routes;
    }

    public sealed record ProviderList(string DefaultProvider, IReadOnlyList<ProviderInfo> Providers);

    public sealed record ProviderInfo(string Name, string Kind);
}
