namespace Orleans.Search.Reading;

/// <summary>
/// Reads one result URL for the <c>read</c> stage: fetch (politely, through the outbound guard), extract the main
/// text, and remember it for the cache TTL so a second read of the same URL, or a stage re-run after a crash, does
/// not fetch again. Implementations are silo services; the job grain calls them from its read stage.
/// </summary>
public interface IPageReader
{
    /// <summary>Reads <paramref name="url"/>. Never throws for a page's own failure (see <see cref="PageRead.Status"/>);
    /// throws <see cref="OperationCanceledException"/> when cancelled.</summary>
    Task<PageRead> ReadAsync(string url, CancellationToken cancellationToken);
}
