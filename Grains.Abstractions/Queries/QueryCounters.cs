namespace Orleans.Search.Queries;

/// <summary>
/// The counters of provider work, declared once: a query keeps them, reports them to its job, the job sums them, and a
/// job's <see cref="Jobs.JobStats"/> shows them (with rates and totals derived from them).
/// </summary>
[GenerateSerializer, Immutable, Alias("Orleans.Search.QueryCounters")]
public record QueryCounters
{
    public static readonly QueryCounters Zero = new();

    /// <summary>Provider calls tried, retries included.</summary>
    [Id(0)] public int Attempts { get; init; }
    [Id(1)] public int ApiCalls { get; init; }
    [Id(2)] public int Retries { get; init; }
    [Id(3)] public int CacheHits { get; init; }
    [Id(4)] public int CacheMisses { get; init; }
    [Id(5)] public long RateLimitWaitMs { get; init; }
    [Id(6)] public int Errors { get; init; }

    /// <summary>Tokens a search provider billed (Perplexity-like providers answer with an LLM).</summary>
    [Id(7), System.Text.Json.Serialization.JsonIgnore] public Llm.TokenUsage SearchTokens { get; init; } = Llm.TokenUsage.None;

    /// <summary>The sum of two sets of counters.</summary>
    public QueryCounters Plus(QueryCounters other) => new()
    {
        Attempts = Attempts + other.Attempts,
        ApiCalls = ApiCalls + other.ApiCalls,
        Retries = Retries + other.Retries,
        CacheHits = CacheHits + other.CacheHits,
        CacheMisses = CacheMisses + other.CacheMisses,
        RateLimitWaitMs = RateLimitWaitMs + other.RateLimitWaitMs,
        Errors = Errors + other.Errors,
        SearchTokens = SearchTokens + other.SearchTokens,
    };
}
