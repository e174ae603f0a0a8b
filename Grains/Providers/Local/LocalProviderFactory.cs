namespace Orleans.Search.Providers.Local;

/// <summary>Creates <c>local</c> providers over a folder; a relative <c>Path</c> resolves against the app's base directory, then the working directory.</summary>
public sealed class LocalProviderFactory(ILoggerFactory loggers) : ISearchProviderFactory
{
    public const string DefaultPath = "corpus";

    public string Kind => "local";

    public ISearchProvider Create(string name, SearchProviderOptions options) =>
        new LocalFileSearchProvider(name, ResolveFolder(options.Path ?? DefaultPath), options, loggers.CreateLogger<LocalFileSearchProvider>());

    public static string ResolveFolder(string path)
    {
        if (System.IO.Path.IsPathRooted(path))
        {
            return path;
        }
        var besideApp = System.IO.Path.Combine(AppContext.BaseDirectory, path);
        return Directory.Exists(besideApp) ? besideApp : System.IO.Path.GetFullPath(path);
    }
}
