namespace Orleans.Search.Queries;

/// <summary>A query's stored state: its own row, holding its pages' results (the job's row stays small).</summary>
public sealed class QueryState
{
    public QueryWork? Work { get; set; }

    public string Status { get; set; } = QueryStates.Pending;

    public long Version { get; set; }

    /// <summary>Checkpointed pages by page number; a page here is never fetched again.</summary>
    public Dictionary<int, List<StoredHit>> Pages { get; set; } = [];

    public int PagesSucceeded { get; set; }

    public int PagesFailed { get; set; }

    public QueryCounters Counters { get; set; } = QueryCounters.Zero;

    public string? Error { get; set; }

    /// <summary>The most recent attempts, for /debug.</summary>
    public List<AttemptRecord> AttemptLog { get; set; } = [];
}

/// <summary>One stored hit; <paramref name="Path"/> and <paramref name="Line"/> for hits in files (<c>code</c>).</summary>
public sealed record StoredHit(string Url, string Title, string Snippet, string? Path = null, int? Line = null);
