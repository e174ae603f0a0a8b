namespace Orleans.Search.Providers;

/// <summary>Creates adapters of one <see cref="SearchProviderOptions.Kind"/>; register one per kind.</summary>
public interface ISearchProviderFactory
{
    string Kind { get; }

    ISearchProvider Create(string name, SearchProviderOptions options);
}
