using Microsoft.Extensions.Hosting;

namespace Orleans.Search.Providers.Local;

/// <summary>
/// Builds the index of every <c>local</c> provider when the silo starts, in the background: the silo starts at once,
/// the build reports its progress in the log, and host shutdown cancels it. A search before the index is ready waits
/// briefly and then fails transiently; a build that failed (a missing folder, say) is tried again by the next search.
/// </summary>
public sealed partial class LocalIndexStartup(SearchProviderCatalog catalog, IOptionsMonitor<SearchOptions> options, ILogger<LocalIndexStartup> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var builds = new List<Task>();
        foreach (var (name, provider) in options.CurrentValue.Providers)
        {
            if (!string.Equals(provider.Kind, "local", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            try
            {
                if (catalog.Get(name) is LocalFileSearchProvider local)
                {
                    builds.Add(BuildAsync(local, stoppingToken));
                }
            }
            catch (Exception ex)
            {
                LogBuildFailed(name, ex);
            }
        }
        await Task.WhenAll(builds);
    }

    private async Task BuildAsync(LocalFileSearchProvider local, CancellationToken stoppingToken)
    {
        try
        {
            await local.BuildIndexAsync(stoppingToken).WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
            // The configuration changed and the catalog replaced the provider: the new one builds on its first search.
        }
        catch (Exception ex)
        {
            // Never let a corpus problem stop the host; searches report it (and retry the build).
            LogBuildFailed(local.Name, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Local provider {Provider}: building the index at startup failed; searches will try again")]
    private partial void LogBuildFailed(string provider, Exception exception);
}
