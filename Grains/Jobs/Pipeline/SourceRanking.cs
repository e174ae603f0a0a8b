namespace Orleans.Search.Jobs.Pipeline;

/// <summary>
/// Results of several queries as one ranked list: one entry per normalized URL, ranked by reciprocal rank fusion
/// (each query's ranking adds 1/(k + rank)), ties broken by first appearance.
/// </summary>
public static class SourceRanking
{
    private const double K = 60;

    public static List<SearchResult> Fuse(IEnumerable<SearchResult> results)
    {
        var scores = new Dictionary<string, (SearchResult First, double Score, int Order)>(StringComparer.Ordinal);
        var order = 0;
        foreach (var byQuery in results.GroupBy(r => r.Query))
        {
            var rank = 0;
            foreach (var result in byQuery.OrderBy(r => r.Page).ThenBy(r => r.Rank))
            {
                rank++;
                var key = NormalizeUrl(result.Url);
                scores[key] = scores.TryGetValue(key, out var seen)
                    ? (seen.First, seen.Score + 1 / (K + rank), seen.Order)
                    : (result, 1 / (K + rank), order++);
            }
        }
        return scores.Values.OrderByDescending(v => v.Score).ThenBy(v => v.Order).Select(v => v.First).ToList();
    }

    /// <summary>Scheme and host case, a trailing slash and the fragment do not make another page.</summary>
    public static string NormalizeUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return url.Trim();
        }
        var path = uri.AbsolutePath.Length > 1 ? uri.AbsolutePath.TrimEnd('/') : "";
        return $"{uri.Scheme.ToLowerInvariant()}://{uri.Host.ToLowerInvariant()}{(uri.IsDefaultPort ? "" : ":" + uri.Port)}{path}{uri.Query}";
    }
}
