using System.Collections.Concurrent;

namespace Orleans.Search.Providers;

/// <summary>The configured providers by name; adapters are created once per configuration and reused.</summary>
public sealed class SearchProviderCatalog : IDisposable
{
    private readonly IOptionsMonitor<SearchOptions> _options;
    private readonly Dictionary<string, ISearchProviderFactory> _factories;
    private readonly ConcurrentDictionary<string, Lazy<ISearchProvider>> _providers = new(StringComparer.OrdinalIgnoreCase);
    private readonly IDisposable? _onChange;

    public SearchProviderCatalog(IOptionsMonitor<SearchOptions> options, IEnumerable<ISearchProviderFactory> factories)
    {
        _options = options;
        _factories = factories.ToDictionary(f => f.Kind, StringComparer.OrdinalIgnoreCase);
        _onChange = options.OnChange(_ => Reset());
    }

    public string DefaultProvider => _options.CurrentValue.DefaultProvider;

    public IEnumerable<string> Names => _options.CurrentValue.Providers.Keys;

    public bool IsConfigured(string name) => _options.CurrentValue.Providers.ContainsKey(name);

    public SearchProviderOptions GetOptions(string name) =>
        _options.CurrentValue.Providers.TryGetValue(name, out var options)
            ? options
            : throw new ProviderException(name, $"Provider '{name}' is not configured.", statusCode: 400);

    public ISearchProvider Get(string name) =>
        _providers.GetOrAdd(name, n => new Lazy<ISearchProvider>(() => Create(n))).Value;

    private ISearchProvider Create(string name)
    {
        var options = GetOptions(name);
        return _factories.TryGetValue(options.Kind, out var factory)
            ? factory.Create(name, options)
            : throw new ProviderException(name, $"Provider '{name}' has unknown kind '{options.Kind}'. Known kinds: {string.Join(", ", _factories.Keys)}.", statusCode: 400);
    }

    private void Reset()
    {
        foreach (var provider in _providers.Values.Where(p => p.IsValueCreated).Select(p => p.Value))
        {
            (provider as IDisposable)?.Dispose();
        }
        _providers.Clear();
    }

    public void Dispose()
    {
        _onChange?.Dispose();
        Reset();
    }
}
