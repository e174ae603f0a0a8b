using System.Text;

namespace Orleans.Search.Jobs;

/// <summary>
/// Fuses the per-page results of a job's queries into one list: one entry per normalized URL, ranked by reciprocal
/// rank fusion. Each (query, provider) pair is one ranked list, its pages in order; a URL scores
/// Σ 1 / (k + rank) over the lists that found it (its best rank in each). Pure: the same input gives the same output.
/// </summary>
public static class ResultFusion
{
    /// <summary>The usual RRF constant: it damps the weight of the very first ranks.</summary>
    public const int DefaultK = 60;

    // Click and campaign identifiers: they name the visit, not the page.
    private static readonly HashSet<string> TrackingParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
        "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
    };

    /// <summary>The fused results, best first; each keeps the fields of its best-ranked sighting and every query that found it.</summary>
    public static IReadOnlyList<SearchResult> Fuse(IEnumerable<SearchResult> results, int k = DefaultK) =>
        Score(results, k).Select(f => f.Result).ToList();

    /// <summary>As <see cref="Fuse"/>, with each result's fused score.</summary>
    public static IReadOnlyList<FusedResult> Score(IEnumerable<SearchResult> results, int k = DefaultK)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        // Rank within each (query, provider) list: pages in order, then rank within the page; input order breaks ties.
        var lists = results
            .Select((r, order) => (Result: r, Order: order))
            .GroupBy(x => (x.Result.Query, x.Result.Provider))
            .SelectMany(list => list
                .OrderBy(x => x.Result.Page).ThenBy(x => x.Result.Rank).ThenBy(x => x.Order)
                .Select((x, i) => (x.Result, x.Order, ListRank: i + 1)));

        var fused = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var (result, order, listRank) in lists)
        {
            var key = NormalizeUrl(result.Url);
            if (!fused.TryGetValue(key, out var entry))
            {
                fused[key] = entry = new Entry(key);
            }
            entry.Add(result, order, listRank, k);
        }

        return fused.Values
            .OrderByDescending(e => e.Score)
            .ThenBy(e => e.BestRank)
            .ThenBy(e => e.FirstOrder)
            .Select(e => new FusedResult(e.Best! with { Url = e.Url, Queries = e.Queries.OrderBy(q => q.Order).Select(q => q.Query).ToList() }, e.Score))
            .ToList();
    }

    /// <summary>
    /// The URL as fusion compares it: for http and https, scheme and host lower-cased, the default port, the fragment
    /// and tracking parameters (<c>utm_*</c>, <c>gclid</c>, <c>fbclid</c>, …) dropped, and no trailing slash on the
    /// path (the root stays <c>/</c>). Other URLs are only trimmed: their fragment may matter (a line in a file).
    /// </summary>
    public static string NormalizeUrl(string url)
    {
        var trimmed = url.Trim();
        if (!Uri.TryCreate(trimmed, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return trimmed;
        }
        var normalized = new StringBuilder(trimmed.Length);
        normalized.Append(uri.Scheme).Append("://");
        if (uri.UserInfo.Length > 0)
        {
            normalized.Append(uri.UserInfo).Append('@');
        }
        normalized.Append(uri.Host.ToLowerInvariant());
        if (!uri.IsDefaultPort)
        {
            normalized.Append(':').Append(uri.Port);
        }
        var path = uri.AbsolutePath;
        normalized.Append(path.Length > 1 ? path.TrimEnd('/') is { Length: > 0 } p ? p : "/" : "/");
        var kept = uri.Query.TrimStart('?')
            .Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(pair => !IsTracking(pair[..(pair.IndexOf('=') is var eq and >= 0 ? eq : pair.Length)]))
            .ToList();
        if (kept.Count > 0)
        {
            normalized.Append('?').AppendJoin('&', kept);
        }
        return normalized.ToString();
    }

    private static bool IsTracking(string name)
    {
        var decoded = Uri.UnescapeDataString(name);
        return decoded.StartsWith("utm_", StringComparison.OrdinalIgnoreCase) || TrackingParameters.Contains(decoded);
    }

    private sealed class Entry(string url)
    {
        private readonly HashSet<(string Query, string Provider)> _lists = [];

        public string Url { get; } = url;

        public double Score { get; private set; }

        public int BestRank { get; private set; } = int.MaxValue;

        public int FirstOrder { get; private set; } = int.MaxValue;

        public SearchResult? Best { get; private set; }

        public List<(string Query, int Order)> Queries { get; } = [];

        public void Add(SearchResult result, int order, int listRank, int k)
        {
            // Within one list only the best rank counts (its lists are walked best first).
            if (_lists.Add((result.Query, result.Provider)))
            {
                Score += 1.0 / (k + listRank);
            }
            if (listRank < BestRank || (listRank == BestRank && order < FirstOrder))
            {
                BestRank = listRank;
                Best = result;
            }
            FirstOrder = Math.Min(FirstOrder, order);
            var seen = Queries.FindIndex(q => q.Query == result.Query);
            if (seen < 0)
            {
                Queries.Add((result.Query, order));
            }
            else if (order < Queries[seen].Order)
            {
                Queries[seen] = (result.Query, order);
            }
        }
    }
}

/// <summary>A fused result and its reciprocal-rank-fusion score.</summary>
public sealed record FusedResult(SearchResult Result, double Score);
